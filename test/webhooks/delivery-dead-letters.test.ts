/**
 * The webhook dead-letter queue: messages the consumer kept failing on (the platform moves them after `max_retries`)
 * are recorded as abandoned and logged by their ids, never their bodies, and settled.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { DELIVERY_MAX_RETRIES, WEBHOOK_QUEUES } from "../../src/webhooks/queue-messages";
import { deliver } from "../support/vault-queues";
import {
  deliveryLog,
  fanOutRecorded,
  isolateDeliveryTests,
  publishTestEvent,
  receiver,
  recordingWebhookQueue,
  subscribeEndpoint,
} from "../support/webhooks";

// The consumer's summary line per batch is asserted in delivery.test.ts.
isolateDeliveryTests();

describe("a webhook delivery in the dead-letter queue", () => {
  it("is recorded as abandoned in its endpoint's log, logged without its body, and acknowledged", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const inbox = receiver();
    const endpoint = await subscribeEndpoint(inbox.url);
    const queue = recordingWebhookQueue();
    await publishTestEvent(queue, endpoint.id);
    const [delivery] = await fanOutRecorded(queue);

    expect(await deliver(WEBHOOK_QUEUES.deadLetters, [delivery], env)).toEqual([{ acked: true, retried: false }]);

    expect(await deliveryLog(endpoint.id)).toEqual([
      expect.objectContaining({
        event_id: delivery!.eventId,
        attempt: DELIVERY_MAX_RETRIES + 1,
        status: "abandoned",
        next_attempt_at: null,
      }),
    ]);
    expect(await inbox.requests()).toEqual([]);
    expect(errors.mock.calls.map(([line]) => JSON.parse(String(line)) as unknown)).toEqual([
      {
        message: "webhook message dead-lettered",
        queue: WEBHOOK_QUEUES.deadLetters,
        kind: "delivery",
        eventId: delivery!.eventId,
        type: "webhook.test",
        endpointId: endpoint.id,
      },
    ]);
  });

  it("settles an event that was never fanned out, and a message it cannot read, with a log line each", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const queue = recordingWebhookQueue();
    await publishTestEvent(queue, "wh_gone");
    const [event] = queue.queue.take();

    expect(await deliver(WEBHOOK_QUEUES.deadLetters, [event, "garbage"], env)).toEqual([
      { acked: true, retried: false },
      { acked: true, retried: false },
    ]);
    expect(errors.mock.calls.map(([line]) => (JSON.parse(String(line)) as { kind: string }).kind)).toEqual(["event", "unreadable"]);
  });
});
