/**
 * Publishing events to subscribed endpoints (src/webhooks/). An operation publishes what it did through its
 * invocation's outbox (`services.events`), which hands everything over in one `sendBatch` at the invocation's end: the
 * request middleware does so before the response, the user's vault after each call's writes. No read, no delivery
 * and no failure reaches the operation: the queue's consumer finds the subscribed endpoints and delivers, and a send
 * that fails is logged. Like the audit sink, an outbox belongs to one invocation and nothing is shared across them.
 */
import { randomId } from "../crypto/random";
import { sendWebhookMessages, type PublishedEvent } from "../webhooks/queue-messages";
import type { WebhookEvent } from "./payloads";

export type { WebhookEvent };

/** The queue message of `event`, with its `webhook-id` and its body made now: every attempt sends these bytes. */
function publishedEvent(event: WebhookEvent, now: number): PublishedEvent {
  return {
    kind: "event",
    // Standard Webhooks' own examples name message ids `msg_…`.
    eventId: randomId("msg_"),
    type: event.type,
    occurredAt: now,
    body: JSON.stringify({ type: event.type, timestamp: new Date(now).toISOString(), data: event.data }),
    endpointIds: event.endpointIds ?? null,
  };
}

/** Sends one event now (`webhook.test`); throws when the queue refuses it, for the caller to answer accordingly. */
export async function publishEvent(services: { env: Env; clock: () => number }, event: WebhookEvent): Promise<void> {
  await sendWebhookMessages(services.env, [publishedEvent(event, services.clock())]);
}

export class EventOutbox {
  readonly #events: PublishedEvent[] = [];

  constructor(
    private readonly env: Env,
    private readonly clock: () => number,
  ) {}

  /** Records an event to send at the end of this invocation; its time is now. */
  publish(event: WebhookEvent): void {
    this.#events.push(publishedEvent(event, this.clock()));
  }

  /** Sends what was published, in one `sendBatch` (none when nothing was); a failure is logged, never thrown. */
  async flush(): Promise<void> {
    const events = this.#events.splice(0);
    if (events.length === 0) return;
    try {
      await sendWebhookMessages(this.env, events);
    } catch (error) {
      // The types and ids say what was lost; the bodies stay out of the log.
      console.error(
        JSON.stringify({
          message: "webhook events not queued",
          events: events.map((event) => ({ id: event.eventId, type: event.type })),
          error: error instanceof Error ? error.name : typeof error,
        }),
      );
    }
  }
}
