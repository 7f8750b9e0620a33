import type { RequestClient } from "../http/request-client";
import type { Services } from "../services";
import { listConnections } from "../storage/connections";
import { deleteActivationsOfUser } from "../storage/integration-activations";
import { deletePendingAuthorizationsOfUser } from "../storage/pending-authorizations";
import { userVault } from "../vault/user-vault";

/**
 * Erasure (`DELETE /v1/me`): every connection of the user revoked and removed through the user's vault, every
 * integration activation and pending authorization deleted. The consent and audit history stay as the record.
 */
export async function eraseUser(services: Services, { userId, client }: { userId: string; client: RequestClient }): Promise<void> {
  const vault = userVault(services.env, userId);
  const connections = await listConnections(services.db, { userId });
  // One at a time: each removal may call the provider, and a user has few connections.
  for (const connection of connections) await vault.remove({ userId, connectionId: connection.id, client });
  // Activations still waiting for their first connection; the others went with their connections.
  const activations = await deleteActivationsOfUser(services.db, { userId });
  // Pending authorizations would otherwise still complete and store a new connection after the erasure.
  const authorizations = await deletePendingAuthorizationsOfUser(services.env.AUTH_STATE, userId);
  services.audit.record({
    action: "user.erased",
    outcome: "success",
    detail: { connections: connections.length, pending_integrations: activations.length, pending_flows: authorizations },
  });
}
