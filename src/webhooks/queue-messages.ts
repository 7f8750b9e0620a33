/**
 * The webhook queue and what travels on it (wrangler.jsonc, "queues"). Publishing an event costs the operation that
 * caused it one `sendBatch` and no read: the event goes on the queue as it is, and the consumer fans it out into one
 * message per subscribed endpoint, each retried on its own schedule. Messages carry the payload a receiver gets,
 * which never holds a token, and ids; never a secret.
 *
 *   `webhook-deliveries`      `PublishedEvent` (fanned out by ./fan-out.ts) and `PendingDelivery` (./delivery.ts)
 *   `webhook-deliveries-dlq`  either, once it failed every attempt the consumer allows (./dead-deliveries.ts)
 */
import { z } from "zod";
import { MAX_MESSAGES_PER_SEND_BATCH } from "../queues/limits";
import { WEBHOOK_EVENT_TYPES } from "../events/event-types";

/** Queue names as wrangler.jsonc declares them; the Worker's queue handler dispatches a batch by its queue's name. */
export const WEBHOOK_QUEUES = {
  deliveries: "webhook-deliveries",
  deadLetters: "webhook-deliveries-dlq",
} as const;

/**
 * `max_retries` of the `webhook-deliveries` consumer in wrangler.jsonc: above the schedule's 16 retries in 24 h, so the
 * consumer, not the platform, ends a delivery's retries, unless it kept failing before it could decide.
 */
export const DELIVERY_MAX_RETRIES = 20;

const id = z.string().min(1).max(200);

const event = {
  /** The event's `webhook-id`: one per event, the same for every endpoint and on every attempt. */
  eventId: id,
  type: z.enum(WEBHOOK_EVENT_TYPES),
  /** When the event happened (Unix ms): the 24 hours of retries are counted from it. */
  occurredAt: z.number().int().nonnegative(),
  /** The JSON body exactly as every attempt sends and signs it. */
  body: z.string(),
};

const publishedEvent = z.object({
  kind: z.literal("event"),
  ...event,
  /** Deliver to these endpoints only (`webhook.test`); `null`: to every enabled endpoint subscribed to the type. */
  endpointIds: z.array(id).max(MAX_MESSAGES_PER_SEND_BATCH).nullable(),
});

const pendingDelivery = z.object({
  kind: z.literal("delivery"),
  ...event,
  endpointId: id,
  /** Sent to this endpoint by name (`webhook.test`): delivered even while the endpoint is disabled. */
  targeted: z.boolean(),
});

export const webhookMessageSchema = z.discriminatedUnion("kind", [publishedEvent, pendingDelivery]);
export type WebhookMessage = z.infer<typeof webhookMessageSchema>;
export type PublishedEvent = z.infer<typeof publishedEvent>;
export type PendingDelivery = z.infer<typeof pendingDelivery>;

/** Sends `messages` to the webhook queue, as many per call as the platform takes. */
export async function sendWebhookMessages(env: Env, messages: readonly WebhookMessage[]): Promise<void> {
  for (let start = 0; start < messages.length; start += MAX_MESSAGES_PER_SEND_BATCH) {
    // JSON rather than the default structured clone: the dashboard and `wrangler queues` can show a JSON message.
    await env.WEBHOOK_QUEUE.sendBatch(
      messages.slice(start, start + MAX_MESSAGES_PER_SEND_BATCH).map((message) => ({ body: message, contentType: "json" as const })),
    );
  }
}
