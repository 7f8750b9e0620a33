/**
 * What an integration's activation writes, shared by the activation routes and the connect flow's last step (which
 * runs in the user's vault and must not depend on beginning connect flows).
 */
import { integrationEvent } from "../events/payloads";
import { type ConsentClient, recordConsent } from "../storage/consents";
import { joinScopes, missingScopes, parseScopes } from "../scopes";
import type { Services } from "../services";
import { saveActivation } from "../storage/integration-activations";
import type { ConnectionRow } from "../storage/schema";
import { integrationCatalogue, type Integration } from "./catalogue";

/** Completes the activation an authorization was begun for, once the callback has stored the connection. */
export async function completeIntegrationActivation(
  services: Services,
  request: { userId: string; key: string; connection: ConnectionRow; client: ConsentClient; now: number },
): Promise<void> {
  const integration = integrationCatalogue(services.config).get(request.key);
  if (!integration) return;
  await saveActivation(services.db, {
    userId: request.userId,
    integration: integration.key,
    connectionId: request.connection.id,
    now: request.now,
  });
  if (missingScopes(integration.scopes, parseScopes(request.connection.scopes)).length > 0) return;
  await recordIntegrationConsent(services, request, integration, "integration_activated", request.connection.id);
  services.audit.record({
    action: "integration.activated",
    outcome: "success",
    provider: integration.provider,
    connectionId: request.connection.id,
    detail: { integration: integration.key },
  });
  services.events.publish(integrationEvent("integration.activated", request.userId, integration.key, request.connection));
}

/** Appends an integration change to the user's consent history. */
export async function recordIntegrationConsent(
  services: Services,
  request: { userId: string; client: ConsentClient; now: number },
  integration: Integration,
  kind: "integration_activated" | "integration_deactivated",
  connectionId: string | null,
): Promise<void> {
  await recordConsent(services.db, {
    userId: request.userId,
    connectionId,
    provider: integration.provider,
    kind,
    scopes: joinScopes(integration.scopes),
    missingScopes: "",
    integration: integration.key,
    ...request.client,
    createdAt: request.now,
  });
}
