/**
 * Key rotation for webhook signing secrets. Unlike a connection's tokens, which its user's Durable Object rewrites
 * because a refresh may replace them at the same moment, an endpoint's secrets have no writer that needs serialising:
 * every write of the row is a compare-and-swap on its version. So the re-encryption scan rewrites endpoints itself,
 * a page at a time (src/queues/scan-pages.ts), without a job per endpoint.
 */
import type { Services } from "../services";
import { updateWebhookEndpoint, type WebhookEndpointRow } from "../storage/webhook-endpoints";
import { logUnreadableSecret, openPreviousSecret, openSecret, sealSecrets } from "./endpoints";

export type SecretReEncryptResult = "re_encrypted" | "conflict" | "undecryptable";

/**
 * Rewrites an endpoint's secrets under the current key. A previous secret whose overlap ended by `now`, or that no
 * longer decrypts, signs nothing any more and is dropped rather than carried over. A conflict (the operator rotated or
 * changed the endpoint meanwhile) and an undecryptable secret leave the row for the next tick; the latter stays
 * counted by `GET /v1/admin/keys` under its key.
 */
export async function reEncryptSecrets(services: Services, endpoint: WebhookEndpointRow, now: number): Promise<SecretReEncryptResult> {
  const current = await openSecret(services.cipher, endpoint.id, endpoint.secretCiphertext);
  if (!current.ok) {
    logUnreadableSecret(endpoint, "current", current.reason);
    return "undecryptable";
  }
  const previous = await openPreviousSecret(services.cipher, endpoint, now);
  const written = await updateWebhookEndpoint(
    services.db,
    { id: endpoint.id, expectedVersion: endpoint.version },
    {
      ...(await sealSecrets(services.cipher, endpoint.id, { current: current.plaintext, previous })),
      previousSecretExpiresAt: previous === null ? null : endpoint.previousSecretExpiresAt,
    },
  );
  return written ? "re_encrypted" : "conflict";
}
