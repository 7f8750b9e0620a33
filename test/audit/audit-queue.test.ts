/**
 * The vend's audit event through the audit queue (issue 9, part 2): the request sends one message and writes nothing;
 * the consumer writes a batch in one D1 round trip, ignores ids already written, retries on a failed write; the
 * dead-letter consumer writes late or logs.
 */
import { createExecutionContext, createMessageBatch, getQueueResult, type QueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuditSink } from "../../src/audit/audit-sink";
import worker from "../../src/index";
import { database } from "../../src/storage/database";
import { apiClient } from "../support/api-client";
import { appWithEnv } from "../support/app-with-env";
import { watchedDatabase, writesTo } from "../support/d1-calls";
import { failingDatabase } from "../support/failing-db";
import { captureLogs, logsOf } from "../support/logs";
import { recordingQueue } from "../support/recording-queue";
import { connectMock, storedPlaintext } from "../support/refresh-fixtures";
import { service } from "../support/toolkit";
import { newUserId } from "../support/users";

afterEach(() => {
  vi.restoreAllMocks();
});

/** Message bodies of `count` vends of one user, made as the hot path makes them (the sink, then its queue send). */
async function vendedEventBodies(userId: string, count: number): Promise<unknown[]> {
  const recording = recordingQueue();
  const sink = new AuditSink(
    database(env.DB),
    recording.queue,
    { requestId: null, ip: "198.51.100.9", userId, actor: "backend" },
    Date.now,
  );
  for (let vend = 0; vend < count; vend += 1) {
    sink.recordAfterResponse({
      action: "token.vended",
      outcome: "success",
      provider: "google",
      connectionId: `conn_${vend}`,
      detail: { refreshed: false },
    });
  }
  await sink.flushAfterResponse();
  return recording.sent;
}

/** Hands `bodies` to the Worker's queue handler as one batch of `queue`, the way the platform delivers it. */
async function deliver(queue: string, bodies: unknown[], options: { env?: Env; attempts?: number } = {}): Promise<QueueResult> {
  const batch = createMessageBatch(
    queue,
    bodies.map((body, index) => ({ id: `msg-${index}`, timestamp: Date.now(), attempts: options.attempts ?? 1, body })),
  );
  const context = createExecutionContext();
  await worker.queue(batch, options.env ?? env, context);
  return getQueueResult(batch, context);
}

/** The user's `token.vended` rows as stored, by id. */
async function vendedRows(userId: string): Promise<Record<string, unknown>[]> {
  const { results } = await env.DB.prepare("SELECT * FROM audit_events WHERE user_id = ? AND action = 'token.vended' ORDER BY id")
    .bind(userId)
    .all<Record<string, unknown>>();
  return results;
}

async function vendedRowCount(userId: string): Promise<number> {
  return (await vendedRows(userId)).length;
}

describe("a vend's audit event", () => {
  it("leaves the request as exactly one queue message, and the request writes no audit row itself", async () => {
    const google = await connectMock("google", "audit-queue-send");
    const recording = recordingQueue();
    const watched = watchedDatabase(env.DB);

    const token = await apiClient(appWithEnv({ ...env, AUDIT_QUEUE: recording.queue, DB: watched.db })).vendOk(
      google.userId,
      google.connectionId,
    );

    expect(recording.sent).toEqual([
      expect.objectContaining({
        id: expect.stringMatching(/^evt_/),
        action: "token.vended",
        outcome: "success",
        actor: "backend",
        userId: google.userId,
        connectionId: google.connectionId,
        provider: "google",
        detail: { refreshed: false },
      }),
    ]);
    expect(JSON.stringify(recording.sent)).not.toContain(token.access_token);
    expect(JSON.stringify(recording.sent)).not.toContain(await storedPlaintext(google, "refresh_token"));
    expect(writesTo(watched.statements(), "audit_events")).toEqual([]);
    expect(await vendedRowCount(google.userId)).toBe(0);
  });

  it("is in GET /v1/audit once the consumer ran, under the id it was sent with", async () => {
    const google = await connectMock("google", "audit-queue-visible");
    const recording = recordingQueue();
    await apiClient(appWithEnv({ ...env, AUDIT_QUEUE: recording.queue })).vendOk(google.userId, google.connectionId);
    expect(await service.auditEvents(google.userId, "token.vended")).toEqual([]);

    expect(await deliver("audit-events", recording.sent)).toMatchObject({ outcome: "ok", retryBatch: { retry: false } });

    const [sent] = recording.sent as { id: string }[];
    expect(await service.auditEvents(google.userId, "token.vended")).toEqual([
      expect.objectContaining({ id: sent!.id, connection_id: google.connectionId, outcome: "success", detail: { refreshed: false } }),
    ]);
  });
});

describe("the audit-events consumer", () => {
  it("writes a full batch of 100 events in one D1 round trip", async () => {
    const userId = newUserId("audit-queue-100");
    const watched = watchedDatabase(env.DB);

    const result = await deliver("audit-events", await vendedEventBodies(userId, 100), { env: { ...env, DB: watched.db } });

    expect(result).toMatchObject({ outcome: "ok", retryBatch: { retry: false }, retryMessages: [] });
    expect(watched.roundTrips()).toBe(1);
    expect(await vendedRowCount(userId)).toBe(100);
  });

  it("writes nothing twice when the same batch is delivered again", async () => {
    const userId = newUserId("audit-queue-again");
    const bodies = await vendedEventBodies(userId, 20);
    await deliver("audit-events", bodies);
    const written = await vendedRows(userId);

    expect(await deliver("audit-events", bodies, { attempts: 2 })).toMatchObject({ outcome: "ok", retryBatch: { retry: false } });

    expect(written).toHaveLength(20);
    expect(await vendedRows(userId)).toEqual(written);
  });

  it("writes the new events of a batch that also redelivers events already written", async () => {
    const userId = newUserId("audit-queue-mixed");
    const bodies = await vendedEventBodies(userId, 30);
    await deliver("audit-events", bodies.slice(0, 10));

    await deliver("audit-events", bodies);

    const ids = (await vendedRows(userId)).map((row) => row.id);
    expect(ids).toEqual((bodies as { id: string }[]).map((body) => body.id).sort());
  });

  it("retries the whole batch when the D1 write fails, and logs how many events without their content", async () => {
    const userId = newUserId("audit-queue-d1-down");
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const db = failingDatabase(env.DB, { batch: () => Promise.reject(new RangeError("D1 batch failed")) });

    const result = await deliver("audit-events", await vendedEventBodies(userId, 5), { env: { ...env, DB: db }, attempts: 3 });

    expect(result.retryBatch.retry).toBe(true);
    expect(await vendedRowCount(userId)).toBe(0);
    expect(logsOf(error).lines()).toEqual([
      { message: "audit events not written; the batch will be retried", events: 5, attempts: 3, error: "RangeError" },
    ]);
  });

  it("skips a malformed message, naming its id and fields but not its values, and writes the rest of the batch", async () => {
    const userId = newUserId("audit-queue-malformed");
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const [good, broken] = await vendedEventBodies(userId, 2);
    const malformed = { ...(broken as object), outcome: "maybe", ip: 198 };

    const result = await deliver("audit-events", [good, malformed]);

    expect(result.retryBatch.retry).toBe(false);
    expect(await vendedRowCount(userId)).toBe(1);
    expect(logsOf(error).lines()).toEqual([
      { message: "malformed audit event message skipped", queue: "audit-events", id: "msg-1", fields: ["outcome", "ip"] },
    ]);
  });

  it("acknowledges a batch of nothing but malformed messages without calling D1", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const watched = watchedDatabase(env.DB);

    const result = await deliver("audit-events", [{ id: "not-an-event" }, "text"], { env: { ...env, DB: watched.db } });

    expect(result.retryBatch.retry).toBe(false);
    expect(watched.roundTrips()).toBe(0);
  });
});

describe("the audit-events dead-letter consumer", () => {
  it("writes the dead-lettered events late and says so", async () => {
    const userId = newUserId("audit-dlq-written");
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});

    const result = await deliver("audit-events-dlq", await vendedEventBodies(userId, 3));

    expect(result.retryBatch.retry).toBe(false);
    expect(await vendedRowCount(userId)).toBe(3);
    expect(logsOf(warn).lines()).toEqual([{ message: "dead-lettered audit events written late", events: 3 }]);
  });

  it("logs each event in full when it still cannot write them, and settles the batch instead of retrying it", async () => {
    const userId = newUserId("audit-dlq-lost");
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const bodies = await vendedEventBodies(userId, 2);
    const db = failingDatabase(env.DB, { batch: () => Promise.reject(new Error("D1_ERROR: simulated outage")) });

    const result = await deliver("audit-events-dlq", bodies, { env: { ...env, DB: db } });

    expect(result.retryBatch.retry).toBe(false);
    expect(logsOf(error).lines()).toEqual([
      { message: "dead-lettered audit event not written", event: bodies[0] },
      { message: "dead-lettered audit event not written", event: bodies[1] },
      { message: "dead-lettered audit events not written", events: 2, error: "Error" },
    ]);
  });
});

describe("the Worker's queue handler", () => {
  it("refuses a batch from a queue it has no consumer for, so the batch is retried rather than acknowledged", async () => {
    const errors = captureLogs("error");
    await expect(deliver("some-other-queue", [{}])).rejects.toThrow("no consumer for queue some-other-queue");
    expect(errors.lines()).toEqual([{ message: "no consumer for this queue", queue: "some-other-queue", messages: 1 }]);
  });
});
