import { beginConnect, configuredProvider } from "../connect/begin";
import { usableRefreshToken } from "../connections/token-pair";
import { ProblemError } from "../errors";
import { integrationEvent } from "../events/payloads";
import type { ConsentClient } from "../storage/consents";
import { missingScopes, parseScopes } from "../scopes";
import type { Services } from "../services";
import { listConnections } from "../storage/connections";
import { deleteActivation, saveActivation } from "../storage/integration-activations";
import type { ConnectionRow } from "../storage/schema";
import { recordIntegrationConsent } from "./activation-record";
import { integrationCatalogue, type Integration } from "./catalogue";

export interface ActivationRequest {
  userId: string;
  key: string;
  connectionId?: string | undefined;
  returnTo?: string | undefined;
  /** Instead of `returnTo`: a page of this service (see `BeginConnectRequest`). */
  returnToServicePath?: string | undefined;
  client: ConsentClient;
  now: number;
}

export type ActivationResult = { status: "active" } | { status: "authorization_required"; authorizationUrl: string };

export function findIntegration(services: Services, key: string): Integration {
  const integration = integrationCatalogue(services.config).get(key);
  if (!integration) throw new ProblemError("not-found", `There is no integration "${key}".`);
  return integration;
}

/** The connection an activation uses: the one named, or the user's only one to the provider, or none yet. */
function targetConnection(
  connections: ConnectionRow[],
  integration: Integration,
  connectionId: string | undefined,
): ConnectionRow | undefined {
  const candidates = connections.filter((connection) => connection.provider === integration.provider);
  if (connectionId !== undefined) {
    const named = candidates.find((connection) => connection.id === connectionId);
    if (!named) throw new ProblemError("not-found", `The caller has no ${integration.provider} connection ${connectionId}.`);
    return named;
  }
  if (candidates.length > 1) {
    throw new ProblemError("bad-request", `The user has several ${integration.provider} connections: name one in connection_id.`, {
      extensions: { connection_ids: candidates.map((connection) => connection.id) },
    });
  }
  return candidates[0];
}

/**
 * Turns an integration on. When its connection already holds the scopes, at once; otherwise through an incremental
 * authorization for the granted scopes plus the needed ones, which completes the activation in the callback.
 */
export async function activateIntegration(services: Services, request: ActivationRequest): Promise<ActivationResult> {
  const integration = findIntegration(services, request.key);
  const provider = configuredProvider(services, integration.provider);
  const connections = await listConnections(services.db, { userId: request.userId });
  const target = targetConnection(connections, integration, request.connectionId);
  const granted = target ? parseScopes(target.scopes) : [];
  const missing = missingScopes(integration.scopes, granted);
  const activation = { userId: request.userId, integration: integration.key, connectionId: target?.id ?? null, now: request.now };

  if (target && target.status === "active" && missing.length === 0) {
    await saveActivation(services.db, activation);
    await recordIntegrationConsent(services, request, integration, "integration_activated", target.id);
    services.audit.record({
      action: "integration.activated",
      outcome: "success",
      provider: integration.provider,
      connectionId: target.id,
      detail: { integration: integration.key },
    });
    services.events.publish(integrationEvent("integration.activated", request.userId, integration.key, target));
    return { status: "active" };
  }
  // Ask again for what is already granted too: providers without incremental consent (Microsoft, OIDC) grant only what is asked.
  const scopes = [...new Set([...granted.filter((scope) => provider.allowedScopes.includes(scope)), ...integration.scopes])];
  const begun = await beginConnect(services, {
    userId: request.userId,
    providerId: provider.id,
    scopes,
    returnTo: request.returnTo,
    returnToServicePath: request.returnToServicePath,
    connectionId: target?.id ?? null,
    // One that no key decrypts counts as none, so Google is asked for consent again and sends a new one.
    hasRefreshToken: target !== undefined && (await usableRefreshToken(services.cipher, target)) !== null,
    integration: integration.key,
    now: request.now,
  });
  // Only once the authorization has begun: a refused return_to must not leave a pending activation behind.
  await saveActivation(services.db, activation);
  services.audit.record({
    action: "integration.authorization_required",
    outcome: "success",
    provider: integration.provider,
    connectionId: target?.id ?? null,
    detail: { integration: integration.key, missing: missing.length },
  });
  return { status: "authorization_required", authorizationUrl: begun.authorizationUrl };
}

/** Turns an integration off; the connection and other integrations on it stay as they are. */
export async function deactivateIntegration(
  services: Services,
  request: Omit<ActivationRequest, "connectionId" | "returnTo" | "returnToServicePath">,
): Promise<void> {
  const integration = findIntegration(services, request.key);
  if (!(await deleteActivation(services.db, { userId: request.userId, integration: integration.key }))) return;
  await recordIntegrationConsent(services, request, integration, "integration_deactivated", null);
  services.audit.record({
    action: "integration.deactivated",
    outcome: "success",
    provider: integration.provider,
    detail: { integration: integration.key },
  });
  services.events.publish(integrationEvent("integration.deactivated", request.userId, integration.key));
}
