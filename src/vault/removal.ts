import { deletedEvent, integrationEvent, type DeletionReason } from "../events/payloads";
import { type ConsentClient, recordConsent } from "../storage/consents";
import { deleteConnection, findConnection } from "../storage/connections";
import { deleteActivationsOfConnection } from "../storage/integration-activations";
import { reconcilePendingWrite } from "./pending-writes";
import { revokeGrant, type GrantToRevoke, type UpstreamRevocation } from "./upstream-revocation";
import type { VaultServices } from "./vault-services";

export interface RemovalRequest {
  userId: string;
  connectionId: string;
  client: ConsentClient;
  /** Who ended it, as the `connection.deleted` event says: its user, or the user's erasure. */
  reason: DeletionReason;
}

/** `wipe_failed`: the local wipe could not finish (D1 unavailable); nothing was revoked, and repeating it is safe. */
export type RemovalResult = { kind: "removed"; upstream: UpstreamRevocation } | { kind: "not_found" } | { kind: "wipe_failed" };

/**
 * Removes a connection: first the local wipe (withdrawal recorded, its integrations deactivated, the row and its
 * write-ahead copy deleted), then the upstream revocation (RFC 7009, the refresh token first) unless another
 * connection still holds the grant. Local first, so that no provider, however broken, keeps a user's tokens here,
 * and so that a grant shared by connections removed at the same time is still revoked by the last of them.
 * Removals of one connection are serialized by the vault.
 */
export async function removeConnection(vault: VaultServices, request: RemovalRequest): Promise<RemovalResult> {
  const { userId, connectionId } = request;
  let wiped: GrantToRevoke | null;
  try {
    wiped = await wipeLocally(vault, request);
  } catch (error) {
    console.error(JSON.stringify({ message: "connection wipe failed", error: error instanceof Error ? error.name : typeof error }));
    vault.audit.record({
      userId,
      action: "connection.removed",
      outcome: "failure",
      connectionId,
      detail: { reason: "storage_unavailable" },
    });
    return { kind: "wipe_failed" };
  }
  if (!wiped) return { kind: "not_found" };
  const upstream = await revokeGrant(vault, wiped);
  vault.audit.record({
    userId,
    action: "connection.removed",
    outcome: "success",
    provider: wiped.provider,
    connectionId,
    detail: { upstream },
  });
  return { kind: "removed", upstream };
}

/** Deletes the connection here and returns what revoking its grant needs; `null` when there is no such connection. */
async function wipeLocally(vault: VaultServices, { userId, connectionId, client, reason }: RemovalRequest): Promise<GrantToRevoke | null> {
  // A refresh whose D1 write failed left the newest (rotated) refresh token only in the write-ahead copy: bring D1 up
  // to date first, so that the revocation ends the live grant instead of sending a dead token.
  await reconcilePendingWrite(vault, userId, connectionId);
  const row = await findConnection(vault.db, { userId, id: connectionId });
  if (!row) return null;
  const field = row.refreshTokenCiphertext !== null ? "refresh_token" : "access_token";
  const token = await vault.cipher.decrypt(row.refreshTokenCiphertext ?? row.accessTokenCiphertext, { userId, connectionId, field });

  // The withdrawal is recorded before the row goes: should D1 fail in between, a repeated removal records it again
  // rather than never.
  const consent = { userId, connectionId, provider: row.provider, missingScopes: "", ...client, createdAt: vault.clock() };
  await recordConsent(vault.db, { ...consent, kind: "withdrawal", scopes: row.scopes, integration: null });
  // Integrations on this connection go with it.
  const integrations = await deleteActivationsOfConnection(vault.db, { userId, connectionId });
  for (const integration of integrations) {
    await recordConsent(vault.db, { ...consent, kind: "integration_deactivated", scopes: "", integration });
  }
  await deleteConnection(vault.db, { userId, id: connectionId });
  // The connection as it was before its removal; published once it is gone, whatever the revocation does next.
  vault.events.publish(deletedEvent(row, reason));
  for (const integration of integrations) vault.events.publish(integrationEvent("integration.deactivated", userId, integration));
  await vault.pendingWrites.delete(connectionId);
  return {
    userId,
    provider: row.provider,
    connectionId,
    field,
    token: token.ok ? token.plaintext : null,
    grantKey: row.grantKey,
  };
}
