import type { AuditDetail } from "../audit/audit-sink";
import type { RequestClient } from "../http/request-client";
import type { RevokeResult } from "../providers/provider";
import { deleteConnection, findConnection, type ConnectionRow } from "../storage/connections";
import { recordConsent } from "../storage/consents";
import { deleteActivationsOfConnection } from "../storage/integration-activations";
import { failureLabel } from "./refresh-policy";
import type { VaultServices } from "./vault-services";

export interface RemovalRequest {
  userId: string;
  connectionId: string;
  client: RequestClient;
}

/** `unsupported`: the provider has no revocation endpoint (Microsoft, some OpenID providers); the local wipe is all there is. */
export type UpstreamRevocation = "revoked" | "failed" | "unsupported";

export type RemovalResult = { kind: "removed"; upstream: UpstreamRevocation } | { kind: "not_found" };

/** Revokes the grant upstream (RFC 7009, the refresh token first), then deletes the connection and its tokens. */
export async function revokeAndRemove(vault: VaultServices, request: RemovalRequest): Promise<RemovalResult> {
  const { userId, connectionId } = request;
  const row = await findConnection(vault.db, { userId, id: connectionId });
  if (!row) return { kind: "not_found" };
  const upstream = await revokeUpstream(vault, row);
  // An upstream failure never blocks the local wipe: the user asked for the tokens to be gone.
  if (!(await deleteConnection(vault.db, { userId, id: connectionId }))) return { kind: "not_found" };
  const consent = {
    userId,
    connectionId,
    provider: row.provider,
    missingScopes: "",
    ...request.client,
    createdAt: vault.clock(),
  };
  await recordConsent(vault.db, { ...consent, kind: "withdrawal", scopes: row.scopes, integration: null });
  // Integrations on this connection go with it.
  for (const integration of await deleteActivationsOfConnection(vault.db, { userId, connectionId })) {
    await recordConsent(vault.db, { ...consent, kind: "integration_deactivated", scopes: "", integration });
  }
  vault.audit.record({
    userId,
    action: "connection.removed",
    outcome: "success",
    provider: row.provider,
    connectionId,
    detail: { upstream },
  });
  return { kind: "removed", upstream };
}

async function revokeUpstream(vault: VaultServices, row: ConnectionRow): Promise<UpstreamRevocation> {
  const provider = vault.providers.get(row.provider);
  if (!provider?.configured) return "unsupported";
  const field = row.refreshTokenCiphertext !== null ? "refresh_token" : "access_token";
  const ciphertext = row.refreshTokenCiphertext ?? row.accessTokenCiphertext;
  const token = await vault.cipher.decrypt(ciphertext, { userId: row.userId, connectionId: row.id, field });
  const { upstream, detail } = revocationRecord(token.ok ? await provider.revoke(token.plaintext, field) : null);
  vault.audit.record({
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
