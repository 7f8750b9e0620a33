import type { RevokeResult } from "../providers/provider";
import { failureLabel } from "./policy";
import type { RefreshDependencies } from "./refresh-connection";
import { deleteConnection, findConnection, type ConnectionRow } from "../storage/connections";
import type { AuditDetail } from "../storage/audit-events";
import { recordConsent } from "../storage/consents";
import { deleteActivationsOfConnection } from "../storage/integration-activations";

export interface RemovalRequest {
  userId: string;
  connectionId: string;
  ip: string | null;
  userAgent: string | null;
}

/** `unsupported`: the provider has no revocation endpoint (Microsoft, some OpenID providers); the local wipe is all there is. */
export type UpstreamRevocation = "revoked" | "failed" | "unsupported";

export type RemovalResult = { kind: "removed"; upstream: UpstreamRevocation } | { kind: "not_found" };

/** Revokes the grant upstream (RFC 7009, the refresh token first), then deletes the connection and its tokens. */
export async function revokeAndRemove(deps: RefreshDependencies, request: RemovalRequest): Promise<RemovalResult> {
  const { userId, connectionId } = request;
  const row = await findConnection(deps.db, { userId, id: connectionId });
  if (!row) return { kind: "not_found" };
  const upstream = await revokeUpstream(deps, row);
  // An upstream failure never blocks the local wipe: the user asked for the tokens to be gone.
  if (!(await deleteConnection(deps.db, { userId, id: connectionId }))) return { kind: "not_found" };
  const consent = {
    userId,
    connectionId,
    provider: row.provider,
    missingScopes: "",
    ip: request.ip,
    userAgent: request.userAgent,
    createdAt: deps.now(),
  };
  await recordConsent(deps.db, { ...consent, kind: "withdrawal", scopes: row.scopes, integration: null });
  // Integrations on this connection go with it.
  for (const integration of await deleteActivationsOfConnection(deps.db, { userId, connectionId })) {
    await recordConsent(deps.db, { ...consent, kind: "integration_deactivated", scopes: "", integration });
  }
  await deps.audit({
    userId,
    action: "connection.removed",
    outcome: "success",
    provider: row.provider,
    connectionId,
    detail: { upstream },
  });
  return { kind: "removed", upstream };
}

async function revokeUpstream(deps: RefreshDependencies, row: ConnectionRow): Promise<UpstreamRevocation> {
  const provider = deps.providers.get(row.provider);
  if (!provider?.configured) return "unsupported";
  const field = row.refreshTokenCiphertext !== null ? "refresh_token" : "access_token";
  const ciphertext = row.refreshTokenCiphertext ?? row.accessTokenCiphertext;
  const token = await deps.cipher.decrypt(ciphertext, { userId: row.userId, connectionId: row.id, field });
  const { upstream, detail } = revocationRecord(token.ok ? await provider.revoke(token.plaintext, field) : null);
  await deps.audit({
    userId: row.userId,
    action: "token.revoked",
    outcome: upstream === "failed" ? "failure" : "success",
    provider: row.provider,
    connectionId: row.id,
    detail: { credential: field === "refresh_token" ? "refresh" : "access", ...detail },
  });
  return upstream;
}

/** How a revocation is recorded; `null` when the stored token did not decrypt, so nothing could be sent. */
function revocationRecord(result: RevokeResult | null): { upstream: UpstreamRevocation; detail: AuditDetail } {
  if (result === null) return { upstream: "failed", detail: { reason: "undecryptable" } };
  switch (result.kind) {
    case "revoked":
      return { upstream: "revoked", detail: {} };
    case "unsupported":
      // Nothing was revoked upstream, so the audit says it was skipped and why rather than reading as a revocation.
      return { upstream: "unsupported", detail: { upstream: "skipped", reason: "no_revocation_endpoint" } };
    case "failed":
      return { upstream: "failed", detail: { reason: failureLabel(result.failure), status: result.failure.status } };
  }
}
