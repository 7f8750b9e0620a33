/**
 * Write-ahead copies of token writes that must reach D1. A rotated refresh token exists nowhere else once the
 * provider has answered, so it is kept (as ciphertext) in the user's Durable Object before anyone sees the new
 * access token, and applied to D1 afterwards (RFC 9700 §4.14: a lost rotated token is a lost grant).
 */
import { findConnection, setWriteAheadCopyKey, type ConnectionRow } from "../storage/connections";
import type { PendingWrite, PendingWrites, VaultServices } from "./vault-services";

export type { PendingWrite, PendingWrites };

/** Durable Object storage key of a connection's write-ahead copy. */
const KEY_PREFIX = "pending-write:";

/** The write-ahead store of one user's Durable Object. */
export function pendingWritesIn(storage: DurableObjectStorage): PendingWrites {
  return {
    get: (connectionId) => storage.get<PendingWrite>(`${KEY_PREFIX}${connectionId}`),
    put: (connectionId, write) => storage.put(`${KEY_PREFIX}${connectionId}`, write),
    delete: async (connectionId) => {
      await storage.delete(`${KEY_PREFIX}${connectionId}`);
    },
  };
}

/**
 * Brings D1 up to date with a write left over from an earlier refresh whose D1 write failed, and clears a leftover
 * mark of a possible copy (vault/refresh.ts sets it before each upstream refresh). Only the user's Durable Object
 * calls this, serialized per connection, so no refresh of the connection is under way. Returns the row as D1 now
 * holds it (`null`: there is none).
 */
export async function reconcilePendingWrite(vault: VaultServices, userId: string, connectionId: string): Promise<ConnectionRow | null> {
  const key = { userId, id: connectionId };
  const row = await findConnection(vault.db, key);
  const pending = await vault.pendingWrites.get(connectionId);
  if (pending && row?.version === pending.expectedVersion) {
    const update = { ...pending.update, pendingWriteKeyId: null };
    if (!(await vault.writeConnection(vault.db, { ...key, expectedVersion: pending.expectedVersion }, update))) {
      // Another writer (a reconnect) got there between the read and the write: its tokens supersede the copy's.
      await vault.pendingWrites.delete(connectionId);
      return reconcilePendingWrite(vault, userId, connectionId);
    }
    await vault.pendingWrites.delete(connectionId);
    return { ...row, ...update, version: row.version + 1 };
  }
  // Written before (the failure hid a success), or superseded by a reconnect or a removal.
  if (pending) await vault.pendingWrites.delete(connectionId);
  if (row?.pendingWriteKeyId != null) {
    await setWriteAheadCopyKey(vault.db, key, null);
    return { ...row, pendingWriteKeyId: null };
  }
  return row;
}
