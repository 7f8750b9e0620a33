/**
 * Write-ahead copies of token writes that must reach D1. A rotated refresh token exists nowhere else once the
 * provider has answered, so it is kept (as ciphertext) in the user's Durable Object before anyone sees the new
 * access token, and applied to D1 afterwards (RFC 9700 §4.14: a lost rotated token is a lost grant).
 */
import { findConnection, type ConnectionUpdate } from "../storage/connections";
import type { VaultServices } from "./vault-services";

/** A token write that must reach D1, applied only while the row still has `expectedVersion`. */
export interface PendingWrite {
  expectedVersion: number;
  update: ConnectionUpdate & { refreshTokenCiphertext: string | null };
}

export interface PendingWrites {
  get(connectionId: string): Promise<PendingWrite | undefined>;
  put(connectionId: string, write: PendingWrite): Promise<void>;
  delete(connectionId: string): Promise<void>;
}

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

/** Applies a token write left over from an earlier refresh whose D1 write failed. */
export async function reconcilePendingWrite(vault: VaultServices, userId: string, connectionId: string): Promise<void> {
  const pending = await vault.pendingWrites.get(connectionId);
  if (!pending) return;
  const row = await findConnection(vault.db, { userId, id: connectionId });
  if (row && row.version === pending.expectedVersion) {
    if (!(await vault.writeConnection(vault.db, { userId, id: connectionId, expectedVersion: pending.expectedVersion }, pending.update))) {
      return;
    }
  }
  // Written now, written before (the failure hid a success), or superseded by a reconnect or a removal.
  await vault.pendingWrites.delete(connectionId);
}
