/**
 * The part of an erasure (`DELETE /v1/me`) that touches connections, run by the user's vault under its user-level
 * lock: every connection removed (revoked upstream where no other connection holds the grant) and every integration
 * activation deleted. A failure on one connection is counted and the others still go.
 */
import type { ConsentClient } from "../storage/consents";
import { listConnections } from "../storage/connections";
import { deleteActivationsOfUser } from "../storage/integration-activations";
import { removeConnection, type RemovalResult } from "./removal";
import type { VaultServices } from "./vault-services";

export interface ErasureRequest {
  userId: string;
  client: ConsentClient;
}

export interface ErasedConnections {
  /** Connections found. */
  connections: number;
  /** Connections (or the listing itself, or the activations) that could not be removed. */
  failures: number;
  /** Integration activations deleted that were still waiting for their connection; the others went with it. */
  activations: number;
}

/**
 * Removes the user's connections one by one, each `inTurn` with that connection's other vault work (a refresh under
 * way finishes first), then the user's remaining integration activations.
 */
export async function eraseConnections(
  vault: VaultServices,
  { userId, client }: ErasureRequest,
  inTurn: (connectionId: string, task: () => Promise<RemovalResult>) => Promise<RemovalResult>,
): Promise<ErasedConnections> {
  const erased: ErasedConnections = { connections: 0, failures: 0, activations: 0 };
  try {
    const connections = await listConnections(vault.db, { userId });
    erased.connections = connections.length;
    // One at a time: each removal may call the provider, and a user has few connections.
    for (const { id } of connections) {
      const removed = await inTurn(id, () => removeConnection(vault, { userId, connectionId: id, client, reason: "erasure" }));
      if (removed.kind === "wipe_failed") erased.failures += 1;
    }
  } catch (error) {
    logErasureFailure("listing", error);
    erased.failures += 1;
  }
  try {
    erased.activations = (await deleteActivationsOfUser(vault.db, { userId })).length;
  } catch (error) {
    logErasureFailure("activations", error);
    erased.failures += 1;
  }
  return erased;
}

/** Logs a failed step of an erasure by the error's name only (a D1 or KV message may quote what it was given). */
export function logErasureFailure(step: string, error: unknown): void {
  console.error(JSON.stringify({ message: "erasure step failed", step, error: error instanceof Error ? error.name : typeof error }));
}
