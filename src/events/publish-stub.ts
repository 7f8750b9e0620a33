/**
 * STUB, REPLACED AT MERGE. Branch `webhook-delivery` provides `publishEvent` in src/events/publish.ts (the event goes
 * onto the delivery queue; it throws when the queue refuses it). This stand-in has that function's signature, so that
 * `POST /v1/admin/webhooks/{id}/test` is written against it; at the merge, src/webhooks/endpoints.ts imports
 * `publishEvent` from "../events/publish" and this file is deleted.
 */
import type { WebhookEventType } from "./event-types";

export interface WebhookEvent {
  type: WebhookEventType;
  data: { user_id: string | null };
  /** Only to these endpoints (`webhook.test`); absent: to every enabled endpoint subscribed to the type. */
  endpointIds?: string[];
}

export async function publishEvent(_services: { env: Env; clock: () => number }, _event: WebhookEvent): Promise<void> {}
