/**
 * Verifying the service's webhook deliveries, signed the Standard Webhooks way (README, "Verifying a delivery"): a
 * thin wrapper over the `standardwebhooks` library that types what it returns. Verify the exact bytes received:
 * re-serialized JSON would not verify.
 */
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import type { Connection, WebhookEventType } from "./schemas.js";

export { WebhookVerificationError };

/** `data` of an event; which members each type carries is in the README's table "Event types and payloads". */
export interface WebhookEventData {
  /** The user the event is about; `null` only in `webhook.test`. */
  user_id: string | null;
  /** The connection as `GET /v1/connections/{id}` showed it then (never a token). */
  connection?: Connection;
  /** `integration.activated` and `integration.deactivated`: the integration's key. */
  integration?: string;
  /** `needs_reauth`, `refresh_failed`: the failure's reason code; `deleted`: `user` or `erasure`. */
  reason?: string;
  /** `scopes_changed`: the scopes granted before. */
  previous_scopes?: string[];
}

export interface WebhookEvent {
  /** `webhook-id`: one per event, the same on every retry; delivery is at least once, so deduplicate by it. */
  id: string;
  type: WebhookEventType;
  /** When the event happened (ISO 8601); deliveries come in no particular order. */
  timestamp: string;
  data: WebhookEventData;
}

/** Request headers as the Fetch API (`Headers`) or Node's `http` module (`IncomingHttpHeaders`) gives them. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

function headerRecord(headers: WebhookHeaders): Record<string, string> {
  const entries = headers instanceof Headers ? [...headers] : Object.entries(headers);
  const record: Record<string, string> = {};
  for (const [name, value] of entries) {
    if (value !== undefined) record[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return record;
}

/** Verifies deliveries signed with one endpoint's secret (the `whsec_…` its subscription or rotation answered). */
export class WebhookVerifier {
  readonly #webhook: Webhook;

  constructor(secret: string) {
    this.#webhook = new Webhook(secret);
  }

  /**
   * The event, once the signature matches and the timestamp is within 5 minutes of now; else throws
   * `WebhookVerificationError` (answer such a request 400).
   */
  verify(body: string, headers: WebhookHeaders): WebhookEvent {
    const record = headerRecord(headers);
    const payload = this.#webhook.verify(body, record) as Omit<WebhookEvent, "id">;
    return { id: record["webhook-id"]!, type: payload.type, timestamp: payload.timestamp, data: payload.data };
  }
}
