/**
 * STAND-IN until branch `webhook-endpoints` lands: the two functions the delivery side uses, with the signatures that
 * branch exports. Its version (secrets encrypted with the token key ring) replaces this file at the merge; here the
 * secret columns hold the secrets as they are, which only the delivery tests write.
 */
import type { WebhookEventType } from "../events/event-types";
import type { Services } from "../services";
import { listWebhookEndpoints, type WebhookEndpointRow } from "../storage/webhook-endpoints";

export type { WebhookEndpointRow };

/** The `whsec_…` secrets that sign a delivery at `now`: the current one, then the previous one until its overlap ends. */
export async function activeSigningSecrets(_services: Services, endpoint: WebhookEndpointRow, now: number): Promise<string[]> {
  const previous = endpoint.previousSecretCiphertext;
  const overlapping = previous !== null && endpoint.previousSecretExpiresAt !== null && endpoint.previousSecretExpiresAt > now;
  return overlapping ? [endpoint.secretCiphertext, previous] : [endpoint.secretCiphertext];
}

/** The enabled endpoints subscribed to `type` (listing it, or every type). */
export async function endpointsSubscribedTo(services: Services, type: WebhookEventType): Promise<WebhookEndpointRow[]> {
  const endpoints = await listWebhookEndpoints(services.db);
  return endpoints.filter(
    (endpoint) => endpoint.enabled && (endpoint.events === null || (JSON.parse(endpoint.events) as string[]).includes(type)),
  );
}
