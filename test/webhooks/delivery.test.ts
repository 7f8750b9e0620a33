/**
 * Delivery through the queue (docs/http-api.md, "Events (webhooks)"): a 2xx within 10 s is delivered; anything else is
 * retried after 30 s, 2 min, 10 min, 30 min, 1 h, then every 2 h until 24 h have passed since the event; a `410`
 * disables the endpoint; redirects are not followed; response bodies are not kept; every attempt is in the log.
 * Receivers are the mock's `/__control/respond` endpoint; the test hands the queue's messages to the Worker's handler.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { userErasedEvent } from "../../src/events/payloads";
import { publishEvent } from "../../src/events/publish";
import { consumeWebhookDeliveries } from "../../src/webhooks/delivery";
import { WEBHOOK_QUEUES } from "../../src/webhooks/queue-messages";
import { nextAttempt, retryDelaySeconds } from "../../src/webhooks/retry-schedule";
import { databaseDown, failingDatabase } from "../support/failing-db";
import { captureLogs } from "../support/logs";
import { newUserId } from "../support/users";
import { deliver } from "../support/vault-queues";
import {
  attemptDeliveries,
  deliveryLog,
  fanOutRecorded,
  isolateDeliveryTests,
  pointEndpointAt,
  publishTestEvent,
  receiver,
  recordingWebhookQueue,
  deleteAllWebhookEndpoints,
  storedEndpoint,
  subscribeEndpoint,
  verifiedPayload,
  type WebhookQueue,
} from "../support/webhooks";

/** The consumer's one summary line per batch (asserted once below), kept out of the test output. */
const consumerSummaries = isolateDeliveryTests();

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** An event for every subscribed endpoint, published into `queue` as if it happened `ageMs` ago. */
async function publishUserEvent(queue: WebhookQueue, ageMs = 0): Promise<void> {
  await publishEvent({ env: queue.env, clock: () => Date.now() - ageMs }, userErasedEvent(newUserId("delivery")));
}

/** The only endpoint, at a receiver answering `answer`, and one event's delivery to it, fanned out (`ageMs` old). */
async function oneDelivery(answer: Record<string, string>, ageMs = 0) {
  const inbox = receiver(answer);
  const endpoint = await subscribeEndpoint(inbox.url);
  const queue = recordingWebhookQueue();
  await publishUserEvent(queue, ageMs);
  const [delivery] = await fanOutRecorded(queue);
  return { inbox, endpoint, queue, delivery: delivery! };
}

describe("the retry schedule", () => {
  it("waits 30 s, 2 min, 10 min, 30 min and 1 h after the first five attempts, then 2 h after every later one", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 16].map(retryDelaySeconds)).toEqual([30, 120, 600, 1800, 3600, 7200, 7200, 7200]);
  });

  it("makes no attempt that would start more than 24 h after the event: 17 attempts in all when every one fails", () => {
    const occurredAt = 0;
    let now = occurredAt;
    let attempts = 1;
    for (let next = nextAttempt(attempts, occurredAt, now); next.kind === "retry"; next = nextAttempt(attempts, occurredAt, now)) {
      now = next.at;
      attempts++;
    }
    expect(attempts).toBe(17);
    expect(now - occurredAt).toBeLessThanOrEqual(24 * HOUR_MS);
    expect(now - occurredAt + 2 * HOUR_MS).toBeGreaterThan(24 * HOUR_MS);
  });

  it("retries a failed delivery's message after the schedule's delay for its attempt, recording when the next one is due", async () => {
    const { endpoint, queue, delivery } = await oneDelivery({ status: "500" });

    expect(await attemptDeliveries(queue, [delivery], 1)).toEqual([{ acked: false, retried: true, delaySeconds: 30 }]);
    expect(await attemptDeliveries(queue, [delivery], 3)).toEqual([{ acked: false, retried: true, delaySeconds: 600 }]);
    expect(await attemptDeliveries(queue, [delivery], 9)).toEqual([{ acked: false, retried: true, delaySeconds: 7200 }]);

    const log = await deliveryLog(endpoint.id);
    expect(log.map((row) => [row.attempt, row.status, row.response_status, row.error])).toEqual([
      [1, "failed", 500, "http_status"],
      [3, "failed", 500, "http_status"],
      [9, "failed", 500, "http_status"],
    ]);
    expect(log.map((row) => row.next_attempt_at! - row.at)).toEqual([30_000, 600_000, 7_200_000]);
  });

  it("abandons a delivery whose next attempt would start more than 24 h after the event, and acknowledges it", async () => {
    const { endpoint, queue, delivery } = await oneDelivery({ status: "503" }, 23 * HOUR_MS);

    expect(await attemptDeliveries(queue, [delivery], 17)).toEqual([{ acked: true, retried: false }]);
    expect(await deliveryLog(endpoint.id)).toEqual([
      expect.objectContaining({ attempt: 17, status: "abandoned", response_status: 503, error: "http_status", next_attempt_at: null }),
    ]);
  });

  it("gets every event to an endpoint that was down for an hour once it is back, each once, on the sixth attempt", async () => {
    const inbox = receiver({ status: "503" });
    const endpoint = await subscribeEndpoint(inbox.url);
    const queue = recordingWebhookQueue();
    for (let event = 0; event < 3; event++) await publishUserEvent(queue);
    const deliveries = await fanOutRecorded(queue);

    // Attempts 1 to 5 fall in the hour the receiver is down (0, 30 s, 2.5 min, 12.5 min, 42.5 min after the events).
    for (let attempt = 1; attempt <= 5; attempt++) {
      expect((await attemptDeliveries(queue, deliveries, attempt)).every((settled) => settled.retried)).toBe(true);
    }
    await pointEndpointAt(endpoint.id, inbox.answering({ status: "200" }));
    // The sixth comes 1 h 42.5 min after the events, with the receiver back.
    expect(await attemptDeliveries(queue, deliveries, 6)).toEqual(deliveries.map(() => ({ acked: true, retried: false })));

    const received = await inbox.requests();
    const answered = received.slice(-3);
    expect(new Set(answered.map((request) => request.headers["webhook-id"]))).toEqual(new Set(deliveries.map((d) => d.eventId)));
    expect(answered.every((request) => verifiedPayload(request, endpoint.secret).type === "user.erased")).toBe(true);
    expect(received).toHaveLength(6 * 3);
  });
});

describe("an endpoint that answers 410 Gone", () => {
  it("is disabled (reason gone), the delivery is acknowledged and logged as disabled, not retried", async () => {
    const warnings = captureLogs("warn");
    const { endpoint, queue, delivery } = await oneDelivery({ status: "410" });

    expect(await attemptDeliveries(queue, [delivery])).toEqual([{ acked: true, retried: false }]);

    expect(await storedEndpoint(endpoint.id)).toMatchObject({ enabled: false, disabledReason: "gone" });
    expect(await deliveryLog(endpoint.id)).toEqual([
      expect.objectContaining({ attempt: 1, status: "disabled", response_status: 410, error: "http_status", next_attempt_at: null }),
    ]);
    expect(warnings.lines()).toEqual([{ message: "webhook endpoint answered 410 and was disabled", endpointId: endpoint.id }]);
  });

  it("gets no further attempt of a delivery that was waiting for its retry", async () => {
    captureLogs("warn"); // the 410's line, asserted above
    const { inbox, endpoint, queue, delivery } = await oneDelivery({ status: "500" });
    await attemptDeliveries(queue, [delivery], 1);
    // Meanwhile another event's delivery meets a 410.
    await pointEndpointAt(endpoint.id, inbox.answering({ status: "410" }));
    await publishUserEvent(queue);
    await attemptDeliveries(queue, await fanOutRecorded(queue));
    const requestsWhenDisabled = (await inbox.requests()).length;

    expect(await attemptDeliveries(queue, [delivery], 2)).toEqual([{ acked: true, retried: false }]);

    expect(await inbox.requests()).toHaveLength(requestsWhenDisabled);
    expect((await deliveryLog(endpoint.id)).at(-1)).toMatchObject({
      attempt: 2,
      status: "disabled",
      response_status: null,
      error: "endpoint_disabled",
    });
  });

  it("stays enabled when an operator pointed it elsewhere while the 410 was on its way", async () => {
    const { endpoint, queue, delivery } = await oneDelivery({ status: "410" });
    const realFetch = globalThis.fetch.bind(globalThis);
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      await pointEndpointAt(endpoint.id, receiver().url);
      return realFetch(input, init);
    });

    await attemptDeliveries(queue, [delivery]);

    expect(await storedEndpoint(endpoint.id)).toMatchObject({ enabled: true, disabledReason: null });
  });

  it("gets no new event, but still a test event sent to it by name, so an operator can check it is back before enabling it", async () => {
    captureLogs("warn"); // the 410's line, asserted above
    const { inbox, endpoint, queue, delivery } = await oneDelivery({ status: "410" });
    await attemptDeliveries(queue, [delivery]);
    await pointEndpointAt(endpoint.id, inbox.answering({ status: "200" }));
    await publishUserEvent(queue);
    expect(await fanOutRecorded(queue)).toEqual([]);

    await publishTestEvent(queue, endpoint.id);
    expect(await attemptDeliveries(queue, await fanOutRecorded(queue))).toEqual([{ acked: true, retried: false }]);

    expect((await deliveryLog(endpoint.id)).at(-1)).toMatchObject({ status: "delivered", response_status: 200 });
    expect(await storedEndpoint(endpoint.id)).toMatchObject({ enabled: false, disabledReason: "gone" });
  });
});

describe("a delivery attempt", () => {
  it("does not follow a redirect: the target receives nothing, and the attempt failed with class redirect", async () => {
    const target = receiver({ status: "200" });
    const { queue, endpoint, delivery } = await oneDelivery({ status: "307", location: target.url });

    expect(await attemptDeliveries(queue, [delivery])).toEqual([{ acked: false, retried: true, delaySeconds: 30 }]);

    expect(await target.requests()).toEqual([]);
    expect(await deliveryLog(endpoint.id)).toEqual([
      expect.objectContaining({ status: "failed", response_status: 307, error: "redirect" }),
    ]);
  });

  it("fails with class timeout when the receiver does not answer in time", async () => {
    const { endpoint, delivery } = await oneDelivery({ status: "200", delay_ms: "3000" });
    const batch = createMessageBatch(WEBHOOK_QUEUES.deliveries, [{ id: "timeout-1", timestamp: new Date(), attempts: 1, body: delivery }]);
    const context = createExecutionContext();

    // The Worker waits 10 s (DELIVERY_TIMEOUT_MS); the seam shortens it so the test does not.
    await consumeWebhookDeliveries(batch, env, { timeoutMs: 200 });

    expect((await getQueueResult(batch, context)).retryMessages).toEqual([expect.objectContaining({ msgId: "timeout-1" })]);
    const [attempt] = await deliveryLog(endpoint.id);
    expect(attempt).toMatchObject({ status: "failed", response_status: null, error: "timeout" });
    expect(attempt!.next_attempt_at! - attempt!.at).toBe(30_000);
  });

  it("fails with class network when the receiver cannot be reached", async () => {
    const { endpoint, queue, delivery } = await oneDelivery({ drop: "1" });

    expect(await attemptDeliveries(queue, [delivery])).toEqual([{ acked: false, retried: true, delaySeconds: 30 }]);
    expect(await deliveryLog(endpoint.id)).toEqual([
      expect.objectContaining({ status: "failed", response_status: null, error: "network" }),
    ]);
  });

  it("keeps nothing of the response body: not in the log, not in a log line", async () => {
    const { endpoint, queue, delivery } = await oneDelivery({ status: "500", body: "receiver-private-diagnostics" });
    const lines: unknown[] = [];
    for (const method of ["log", "warn", "error"] as const)
      vi.spyOn(console, method).mockImplementation((...args) => void lines.push(...args));

    await attemptDeliveries(queue, [delivery]);

    const stored = await env.DB.prepare("SELECT * FROM webhook_deliveries WHERE endpoint_id = ?").bind(endpoint.id).all();
    expect(JSON.stringify(stored.results)).not.toContain("receiver-private-diagnostics");
    expect(JSON.stringify(lines)).not.toContain("receiver-private-diagnostics");
  });

  it("is acknowledged without a trace when its endpoint was deleted meanwhile", async () => {
    const { inbox, endpoint, queue, delivery } = await oneDelivery({ status: "200" });
    await deleteAllWebhookEndpoints();

    expect(await attemptDeliveries(queue, [delivery])).toEqual([{ acked: true, retried: false }]);
    expect(await inbox.requests()).toEqual([]);
    expect(await deliveryLog(endpoint.id)).toEqual([]);
  });

  it("is logged as delivered with the receiver's status, and acknowledged", async () => {
    const { endpoint, queue, delivery } = await oneDelivery({ status: "202" });

    expect(await attemptDeliveries(queue, [delivery])).toEqual([{ acked: true, retried: false }]);
    expect(await deliveryLog(endpoint.id)).toEqual([
      expect.objectContaining({
        event_id: delivery.eventId,
        event_type: "user.erased",
        attempt: 1,
        status: "delivered",
        response_status: 202,
        error: null,
        next_attempt_at: null,
      }),
    ]);
    // The fan-out's batch, then the attempt's.
    expect(consumerSummaries().lines()).toEqual([
      expect.objectContaining({ message: "queue.webhook-deliveries", messages: 1, events: 1, fanned_out: 1, delivered: 0 }),
      expect.objectContaining({ message: "queue.webhook-deliveries", messages: 1, events: 0, delivered: 1, failed: 0, retried: 0 }),
    ]);
  });
});

describe("the webhook queue's consumer", () => {
  it("drops a message it cannot read instead of retrying it", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const queue: WebhookQueue = recordingWebhookQueue();

    expect(await deliver(WEBHOOK_QUEUES.deliveries, [{ kind: "delivery", eventId: 42 }], queue.env)).toEqual([
      { acked: true, retried: false },
    ]);
    expect(errors).toHaveBeenCalledWith(expect.stringContaining("webhook message unreadable; dropped"));
  });

  it("fans an event out to the enabled endpoints subscribed to its type (or to every type) only", async () => {
    const all = await subscribeEndpoint(receiver().url);
    const deletions = await subscribeEndpoint(receiver().url, { events: ["connection.deleted"] });
    const tests = await subscribeEndpoint(receiver().url, { events: ["webhook.test", "connection.created"] });
    const disabled = await subscribeEndpoint(receiver().url);
    await env.DB.prepare("UPDATE webhook_endpoints SET enabled = 0 WHERE id = ?").bind(disabled.id).run();
    const queue = recordingWebhookQueue();
    await publishEvent({ env: queue.env, clock: Date.now }, { type: "connection.created", data: { user_id: "fan-out" } });

    const deliveries = await fanOutRecorded(queue);

    const receiving = deliveries.map((delivery) => delivery.endpointId);
    expect(receiving.sort()).toEqual([all.id, tests.id].sort());
    expect(receiving).not.toContain(deletions.id);
    expect(receiving).not.toContain(disabled.id);
  });
});

describe("the webhook queue's consumer when D1 fails", () => {
  it("retries a delivery whose endpoint cannot be read on the schedule, without an attempt", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const { inbox, queue, delivery } = await oneDelivery({ status: "200" });
    const down: WebhookQueue = { ...queue, env: { ...queue.env, DB: databaseDown(env.DB) } };

    expect(await attemptDeliveries(down, [delivery], 2)).toEqual([{ acked: false, retried: true, delaySeconds: 120 }]);

    expect(await inbox.requests()).toEqual([]);
    expect(errors).toHaveBeenCalledWith(expect.stringContaining("webhook delivery failed before its attempt; retried"));
  });

  it("lets such a delivery go once its next attempt would start more than 24 h after the event", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const { queue, delivery } = await oneDelivery({ status: "200" }, 23 * HOUR_MS);
    const down: WebhookQueue = { ...queue, env: { ...queue.env, DB: databaseDown(env.DB) } };

    expect(await attemptDeliveries(down, [delivery], 17)).toEqual([{ acked: true, retried: false }]);
  });

  it("retries an event it cannot fan out after the schedule's delay for that attempt", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    await subscribeEndpoint(receiver().url);
    const queue = recordingWebhookQueue({ ...env, DB: databaseDown(env.DB) });
    await publishUserEvent(queue);

    expect(await deliver(WEBHOOK_QUEUES.deliveries, queue.queue.take(), queue.env)).toEqual([
      { acked: false, retried: true, delaySeconds: 30 },
    ]);
    expect(errors).toHaveBeenCalledWith(expect.stringContaining("webhook event not fanned out; retried"));
  });

  it("settles an attempt by its outcome when its record cannot be written", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const { inbox, endpoint, queue, delivery } = await oneDelivery({ status: "200" });
    const refusingLog = failingDatabase(env.DB, {
      prepare: (sql) => {
        if (String(sql).startsWith('insert into "webhook_deliveries"')) throw new Error("D1_ERROR: simulated outage");
        return env.DB.prepare(String(sql));
      },
    });

    expect(await attemptDeliveries({ ...queue, env: { ...queue.env, DB: refusingLog } }, [delivery])).toEqual([
      { acked: true, retried: false },
    ]);

    expect(await inbox.requests()).toHaveLength(1);
    expect(await deliveryLog(endpoint.id)).toEqual([]);
    expect(errors).toHaveBeenCalledWith(expect.stringContaining("webhook delivery attempt not recorded"));
  });
});
