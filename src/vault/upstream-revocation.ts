/**
 * Revoking a grant at its provider (RFC 7009) for the vault: when a connection is removed, when an erasure refuses a
 * connection whose code was already exchanged, and when a flow held for verification is discarded or expires. Never
 * throws: whatever the provider does is audited and never stands between the user and the local wipe they asked for.
 */
import type { AuditDetail } from "../audit/audit-sink";
import type { Services } from "../services";
import { isGrantHeld } from "../storage/connections";
import { failureLabel } from "./refresh-policy";

/**
 * - `unsupported`: the provider has no revocation endpoint (Microsoft, some OpenID providers); the local wipe is all
 *   there is.
 * - `skipped`: another connection still holds the grant (Google keeps one grant per client and account).
 */
export type UpstreamRevocation = "revoked" | "failed" | "unsupported" | "skipped";

export interface GrantToRevoke {
  userId: string;
  provider: string;
  /** The connection removed; `null` for tokens that never became one (a refused or discarded flow's). */
  connectionId: string | null;
  /** The refresh token, else the access token (RFC 7009 §2.1: revoking the refresh token ends the grant). */
  field: "refresh_token" | "access_token";
  /** `null` when the stored token no longer decrypts. */
  token: string | null;
  /** The grant several connections can share (`ConnectionRow.grantKey`); `null` when it is this connection's own. */
  grantKey: string | null;
}

/**
 * Revokes the grant upstream unless another connection (of any user) still holds it, and audits `token.revoked`
 * with what happened. Details are codes only: never a token, never the provider's own text.
 */
export async function revokeGrant(
  services: Pick<Services, "providers" | "db" | "audit">,
  grant: GrantToRevoke,
): Promise<UpstreamRevocation> {
  const provider = services.providers.get(grant.provider);
  if (!provider?.configured) return "unsupported";
  const audit = (outcome: "success" | "failure", detail: AuditDetail) =>
    services.audit.record({
      userId: grant.userId,
      action: "token.revoked",
      outcome,
      provider: grant.provider,
      connectionId: grant.connectionId,
      detail,
    });
  const credential = grant.field === "refresh_token" ? "refresh" : "access";
  try {
    if (grant.grantKey !== null && (await isGrantHeld(services.db, grant.grantKey))) {
      audit("success", { upstream: "skipped", reason: "shared_grant" });
      return "skipped";
    }
    if (grant.token === null) {
      audit("failure", { credential, reason: "undecryptable" });
      return "failed";
    }
    const answer = await provider.revoke(grant.token, grant.field);
    switch (answer.kind) {
      case "revoked":
        audit("success", { credential });
        return "revoked";
      case "unsupported":
        // Nothing was revoked upstream: the audit says it was skipped and why rather than reading as a revocation.
        audit("success", { credential, upstream: "skipped", reason: "no_revocation_endpoint" });
        return "unsupported";
      case "failed":
        audit("failure", { credential, reason: failureLabel(answer.failure), status: answer.failure.status });
        return "failed";
    }
  } catch (error) {
    // A provider that throws (a bug, a document it cannot read) is logged by the error's name only: its message may
    // quote the provider.
    const name = error instanceof Error ? error.name : typeof error;
    console.error(JSON.stringify({ message: "revocation failed", provider: grant.provider, error: name }));
    audit("failure", { credential, reason: "unexpected_error" });
    return "failed";
  }
}
