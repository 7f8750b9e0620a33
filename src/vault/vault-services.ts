import type { Services } from "../services";
import type { ConnectionUpdate, updateConnection } from "../storage/connections";

/** The services of one call into a user's vault: the common ones plus the object's write-ahead store. */
export interface VaultServices extends Services {
  readonly pendingWrites: PendingWrites;
  /** The D1 write of a connection's tokens; a seam so tests can make it fail. */
  readonly writeConnection: typeof updateConnection;
}

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
