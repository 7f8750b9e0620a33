import { missingScopes as scopesMissing, parseScopes } from "../scopes";
import type { ConnectionRow } from "../storage/schema";
import type { IntegrationActivationRow } from "../storage/integration-activations";
import type { Integration } from "./catalogue";

export type IntegrationStatus = "active" | "inactive" | "authorization_required" | "needs_reauth";

export interface IntegrationState {
  status: IntegrationStatus;
  missingScopes: string[];
  connectionId: string | null;
}

function missingScopes(integration: Integration, connection: ConnectionRow | undefined): string[] {
  return scopesMissing(integration.scopes, connection ? parseScopes(connection.scopes) : []);
}

/**
 * Where an integration stands for a user. Asked for (`activation`): active when its connection holds every scope,
 * `needs_reauth` when the connection does, otherwise `authorization_required`. Not asked for: inactive, showing the
 * connection it would use when the user has exactly one to that provider.
 */
export function integrationState(
  integration: Integration,
  activation: IntegrationActivationRow | undefined,
  connections: readonly ConnectionRow[],
): IntegrationState {
  if (!activation) {
    const candidates = connections.filter((connection) => connection.provider === integration.provider);
    const only = candidates.length === 1 ? candidates[0] : undefined;
    return { status: "inactive", missingScopes: missingScopes(integration, only), connectionId: only?.id ?? null };
  }
  const connection = connections.find((candidate) => candidate.id === activation.connectionId);
  const missing = missingScopes(integration, connection);
  if (connection?.status === "needs_reauth") return { status: "needs_reauth", missingScopes: missing, connectionId: connection.id };
  return {
    status: connection && missing.length === 0 ? "active" : "authorization_required",
    missingScopes: missing,
    connectionId: connection?.id ?? null,
  };
}
