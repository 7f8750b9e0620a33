import type { Services } from "../services";
import type { updateConnection } from "../storage/connections";
import type { PendingWrites } from "./pending-writes";

/** The services of one call into a user's vault: the common ones plus the object's write-ahead store. */
export interface VaultServices extends Services {
  readonly pendingWrites: PendingWrites;
  /** The D1 write of a connection's tokens; a seam so tests can make it fail. */
  readonly writeConnection: typeof updateConnection;
}
