/**
 * Webhook subscriptions, as the admin API manages them, and their signing secrets. A secret is stored encrypted with
 * the token key ring, bound to its endpoint (src/crypto/token-cipher.ts, `webhook_secret`), and shown only when it is
 * made; after a rotation the previous secret signs beside the new one for 24 hours, so receivers can switch without
 * refusing a delivery. Every write is a compare-and-swap on the row's version: the admin API, the delivery's `410`
 * handling and the key-rotation pass may all write an endpoint at once.
 */
import type { AuditDetail } from "../audit/audit-sink";
import type { DecryptFailureReason, DecryptResult, TokenCipher, WebhookSecretContext } from "../crypto/token-cipher";
import { randomId } from "../crypto/random";
import { ProblemError } from "../errors";
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from "../events/event-types";
import { publishEvent } from "../events/publish";
import type { Services } from "../services";
import {
  deleteWebhookEndpoint,
  findSubscribedWebhookEndpoints,
  findWebhookEndpoint,
  insertWebhookEndpoint,
  listWebhookEndpoints,
  updateWebhookEndpoint,
  type WebhookEndpointRow,
  type WebhookEndpointUpdate,
} from "../storage/webhook-endpoints";
import { checkEndpointUrl, ENDPOINT_URL_REFUSALS } from "./endpoint-url";
import { generateWebhookSecret } from "./secret";

export type { WebhookEndpointRow };

/** How long a rotated-out secret goes on signing beside the new one. */
export const PREVIOUS_SECRET_OVERLAP_MS = 24 * 60 * 60_000;

/** Reads and writes of one change before giving up: each retry means another writer changed the row meanwhile. */
const MAX_WRITE_ATTEMPTS = 3;

export interface NewSubscription {
  url: string;
  /** `null`: every type, including types added later. */
  events: readonly WebhookEventType[] | null;
  description: string;
}

/** A `PATCH`: absent members stay as they are; `events: null` subscribes to every type. */
export interface SubscriptionChanges {
  url?: string;
  events?: readonly WebhookEventType[] | null;
  enabled?: boolean;
  description?: string;
}

/** Thrown when an endpoint's current secret does not decrypt (its key left the ring, or the value was tampered with). */
export class WebhookSecretUnavailableError extends Error {
  override name = "WebhookSecretUnavailableError";
  constructor(
    readonly endpointId: string,
    readonly reason: DecryptFailureReason,
  ) {
    super(`webhook endpoint ${endpointId}: the signing secret does not decrypt (${reason})`);
  }
}

/** Subscribes an endpoint; the answer holds its secret, which is never shown again. */
export async function subscribe(
  services: Services,
  input: NewSubscription,
  now: number,
): Promise<{ endpoint: WebhookEndpointRow; secret: string }> {
  const id = randomId("wh_");
  const secret = generateWebhookSecret();
  const endpoint: WebhookEndpointRow = {
    id,
    url: allowedUrl(services, input.url),
    events: storedEvents(input.events),
    enabled: true,
    disabledReason: null,
    description: input.description,
    ...(await sealSecrets(services.cipher, id, { current: secret, previous: null })),
    previousSecretExpiresAt: null,
    version: 1,
    createdAt: now,
    updatedAt: now,
  };
  await insertWebhookEndpoint(services.db, endpoint);
  services.audit.record({ action: "webhook.created", outcome: "success", detail: { ...auditDetail(endpoint), enabled: true } });
  return { endpoint, secret };
}

/** Every subscription, oldest first. */
export function listSubscriptions(services: Services): Promise<WebhookEndpointRow[]> {
  return listWebhookEndpoints(services.db);
}

export function findSubscription(services: Services, id: string): Promise<WebhookEndpointRow | null> {
  return findWebhookEndpoint(services.db, id);
}

/**
 * Applies a `PATCH`; `null` for an unknown id. Enabling an endpoint clears why the service disabled it (a `410`);
 * disabling it is the operator's choice, which carries no reason.
 */
export async function changeSubscription(
  services: Services,
  id: string,
  changes: SubscriptionChanges,
  now: number,
): Promise<WebhookEndpointRow | null> {
  const update: WebhookEndpointUpdate = {
    ...(changes.url === undefined ? {} : { url: allowedUrl(services, changes.url) }),
    ...(changes.events === undefined ? {} : { events: storedEvents(changes.events) }),
    ...(changes.enabled === undefined ? {} : { enabled: changes.enabled, disabledReason: null }),
    ...(changes.description === undefined ? {} : { description: changes.description }),
  };
  const changed = Object.keys(changes).filter((key) => changes[key as keyof SubscriptionChanges] !== undefined);
  if (changed.length === 0) return findWebhookEndpoint(services.db, id);
  const endpoint = await rewrite(services, id, async () => ({ ...update, updatedAt: now }));
  if (endpoint) {
    services.audit.record({
      action: "webhook.updated",
      outcome: "success",
      detail: { ...auditDetail(endpoint), changed: changed.sort().join(","), enabled: endpoint.enabled },
    });
  }
  return endpoint;
}

/** Removes a subscription; false for an unknown id. Its delivery log stays until the retention pruning takes it. */
export async function unsubscribe(services: Services, id: string): Promise<boolean> {
  const endpoint = await findWebhookEndpoint(services.db, id);
  if (!endpoint || !(await deleteWebhookEndpoint(services.db, id))) return false;
  services.audit.record({ action: "webhook.deleted", outcome: "success", detail: auditDetail(endpoint) });
  return true;
}

/** Publishes a `webhook.test` event for this endpoint alone; false for an unknown id. */
export async function requestTestEvent(services: Services, id: string): Promise<boolean> {
  const endpoint = await findWebhookEndpoint(services.db, id);
  if (!endpoint) return false;
  try {
    await publishEvent(services, { type: "webhook.test", data: { user_id: null }, endpointIds: [endpoint.id] });
  } catch (error) {
    console.error(
      JSON.stringify({
        message: "webhook test event not queued",
        endpointId: endpoint.id,
        error: error instanceof Error ? error.name : "unknown",
      }),
    );
    throw new ProblemError("service-unavailable", "The test event could not be queued; try again.", { headers: { "Retry-After": "5" } });
  }
  services.audit.record({ action: "webhook.test_requested", outcome: "success", detail: auditDetail(endpoint) });
  return true;
}

/**
 * Gives an endpoint a new secret and returns it (`null` for an unknown id); the secret it replaces signs beside it for
 * `PREVIOUS_SECRET_OVERLAP_MS`. Both are written under the current key, as the row has one key id. A current secret
 * that no longer decrypts cannot sign anything, so the rotation drops it rather than fail: this is how an operator
 * recovers an endpoint whose key was removed too early.
 */
export async function rotateSigningSecret(services: Services, id: string, now: number): Promise<string | null> {
  const secret = generateWebhookSecret();
  let previousKept = false;
  const endpoint = await rewrite(services, id, async (row) => {
    const current = await openSecret(services.cipher, row.id, row.secretCiphertext);
    if (!current.ok) logUnreadableSecret(row, "current", current.reason);
    previousKept = current.ok;
    return {
      ...(await sealSecrets(services.cipher, row.id, { current: secret, previous: current.ok ? current.plaintext : null })),
      previousSecretExpiresAt: current.ok ? now + PREVIOUS_SECRET_OVERLAP_MS : null,
      updatedAt: now,
    };
  });
  if (!endpoint) return null;
  services.audit.record({
    action: "webhook.secret_rotated",
    outcome: "success",
    detail: {
      ...auditDetail(endpoint),
      previous_secret_until: previousKept ? new Date(now + PREVIOUS_SECRET_OVERLAP_MS).toISOString() : null,
    },
  });
  return secret;
}

/**
 * The `whsec_…` secrets that sign a delivery at `now`: the current one, then the previous one until its overlap ends
 * (Standard Webhooks: one signature per secret, space-separated). Throws `WebhookSecretUnavailableError` when the
 * current secret does not decrypt; a previous one that does not is left out (the current one still signs).
 */
export async function activeSigningSecrets(services: Services, endpoint: WebhookEndpointRow, now: number): Promise<string[]> {
  const current = await openSecret(services.cipher, endpoint.id, endpoint.secretCiphertext);
  if (!current.ok) {
    logUnreadableSecret(endpoint, "current", current.reason);
    throw new WebhookSecretUnavailableError(endpoint.id, current.reason);
  }
  const previous = await openPreviousSecret(services.cipher, endpoint, now);
  return previous === null ? [current.plaintext] : [current.plaintext, previous];
}

/** The enabled endpoints subscribed to `type` (listing it, or every type). */
export function endpointsSubscribedTo(services: Services, type: WebhookEventType): Promise<WebhookEndpointRow[]> {
  return findSubscribedWebhookEndpoints(services.db, type);
}

/** The event types an endpoint receives; `null`: every type. */
export function subscribedEvents(endpoint: WebhookEndpointRow): WebhookEventType[] | null {
  return endpoint.events === null ? null : (JSON.parse(endpoint.events) as WebhookEventType[]);
}

/** The previous secret while its overlap lasts at `now`; `null` after it, or when it does not decrypt (logged). */
export async function openPreviousSecret(cipher: TokenCipher, endpoint: WebhookEndpointRow, now: number): Promise<string | null> {
  const { previousSecretCiphertext: sealed, previousSecretExpiresAt: until } = endpoint;
  if (sealed === null || until === null || now >= until) return null;
  const previous = await openSecret(cipher, endpoint.id, sealed);
  if (previous.ok) return previous.plaintext;
  logUnreadableSecret(endpoint, "previous", previous.reason);
  return null;
}

/** The secret columns for `secrets`, written under the ring's current key and bound to the endpoint. */
export async function sealSecrets(
  cipher: TokenCipher,
  endpointId: string,
  secrets: { current: string; previous: string | null },
): Promise<Pick<WebhookEndpointRow, "secretCiphertext" | "previousSecretCiphertext" | "keyId">> {
  const context = secretContext(endpointId);
  return {
    secretCiphertext: await cipher.encrypt(secrets.current, context),
    previousSecretCiphertext: secrets.previous === null ? null : await cipher.encrypt(secrets.previous, context),
    keyId: cipher.currentKeyId,
  };
}

export function openSecret(cipher: TokenCipher, endpointId: string, sealed: string): Promise<DecryptResult> {
  return cipher.decrypt(sealed, secretContext(endpointId));
}

/** Names the endpoint, the key and the reason; never a secret or the URL (which may carry a credential). */
export function logUnreadableSecret(endpoint: WebhookEndpointRow, which: "current" | "previous", reason: DecryptFailureReason): void {
  console.error(
    JSON.stringify({ message: "webhook secret does not decrypt", endpointId: endpoint.id, which, keyId: endpoint.keyId, reason }),
  );
}

function secretContext(endpointId: string): WebhookSecretContext {
  return { endpointId, field: "webhook_secret" };
}

/**
 * Reads the row, asks `change` for the update and writes it if nobody wrote the row meanwhile; reads again otherwise.
 * `null` for an unknown id.
 */
async function rewrite(
  services: Services,
  id: string,
  change: (row: WebhookEndpointRow) => Promise<WebhookEndpointUpdate>,
): Promise<WebhookEndpointRow | null> {
  for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
    const row = await findWebhookEndpoint(services.db, id);
    if (!row) return null;
    const update = await change(row);
    if (await updateWebhookEndpoint(services.db, { id, expectedVersion: row.version }, update)) {
      return { ...row, ...update, version: row.version + 1 };
    }
  }
  throw new ProblemError("service-unavailable", "The subscription kept changing while it was being written; try again.", {
    headers: { "Retry-After": "1" },
  });
}

/** The URL as stored, or a bad-request problem saying what is wrong with it (never quoting it). */
function allowedUrl(services: Services, url: string): string {
  const checked = checkEndpointUrl(url, services.config.publicBaseUrl);
  if (checked.ok) return checked.url;
  throw new ProblemError("bad-request", "The url is not allowed for a webhook endpoint.", {
    extensions: { invalid_params: [{ path: "url", message: ENDPOINT_URL_REFUSALS[checked.reason] }] },
  });
}

/** JSON array in the catalogue's order, each type once; `null` for every type. */
function storedEvents(events: readonly WebhookEventType[] | null): string | null {
  return events === null ? null : JSON.stringify(WEBHOOK_EVENT_TYPES.filter((type) => events.includes(type)));
}

/**
 * What the audit trail says about an endpoint: its id, the origin of its URL (a path or query may carry the receiver's
 * own credential, as chat-service webhook URLs do) and what it subscribes to. Never a secret.
 */
function auditDetail(endpoint: WebhookEndpointRow): AuditDetail {
  const events = subscribedEvents(endpoint);
  return { endpoint_id: endpoint.id, url_origin: new URL(endpoint.url).origin, events: events === null ? "all" : events.join(",") };
}
