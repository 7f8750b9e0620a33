import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app";
import { AuditSink } from "../../src/audit/audit-sink";
import { database } from "../../src/storage/database";
import { authHeaders } from "../support/caller-token";
import { failingDatabase } from "../support/failing-db";
import { recordingQueue } from "../support/recording-queue";
import { waitForAudit } from "../support/refresh-fixtures";
import { newUserId } from "../support/users";
import { WORKER_ORIGIN } from "../support/worker";

afterEach(() => {
  vi.restoreAllMocks();
});

/** A vend of a connection that does not exist: a 404 whose `token.vended` event is sent to the audit queue after the response. */
async function vendMissing(userId: string): Promise<Request> {
  return new Request(`${WORKER_ORIGIN}/v1/connections/conn_missing/token`, {
    method: "POST",
    headers: { ...(await authHeaders(userId, { scope: "connections:token" })), "Content-Type": "application/json" },
    body: "{}",
  });
}

describe("audit sink", () => {
  it("a failed write is logged with the number of events lost and does not reject", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const db = failingDatabase(env.DB, { batch: () => Promise.reject(new RangeError("D1 batch failed")) });
    const sink = new AuditSink(database(db), env.AUDIT_QUEUE, { requestId: null, ip: null, userId: "sink-a", actor: "user" }, Date.now);
    sink.record({ action: "user.erased", outcome: "success" });
    sink.record({ action: "user.erased", outcome: "success" });

    await expect(sink.flush()).resolves.toBeUndefined();

    expect(JSON.parse(String(error.mock.calls[0]?.[0]))).toEqual({ message: "audit write failed", events: 2, error: "RangeError" });
  });

  it("names a non-Error failure by its type", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const db = failingDatabase(env.DB, { batch: () => Promise.reject("no") });
    const sink = new AuditSink(database(db), env.AUDIT_QUEUE, { requestId: null, ip: null, userId: "sink-b", actor: "user" }, Date.now);
    sink.record({ action: "user.erased", outcome: "success" });
    await sink.flush();
    expect(JSON.parse(String(error.mock.calls[0]?.[0]))).toMatchObject({ error: "string" });
  });

  it("a failed queue send is logged with the number of events lost and does not reject", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const queue = { ...recordingQueue().queue, sendBatch: () => Promise.reject(new TypeError("queue unavailable")) };
    const sink = new AuditSink(database(env.DB), queue, { requestId: null, ip: null, userId: "sink-c", actor: "backend" }, Date.now);
    sink.recordAfterResponse({ action: "token.vended", outcome: "success" });

    await expect(sink.flushAfterResponse()).resolves.toBeUndefined();

    expect(JSON.parse(String(error.mock.calls[0]?.[0]))).toEqual({ message: "audit send failed", events: 1, error: "TypeError" });
  });

  it("a request whose queue send never settles (its waitUntil dropped) stops no later request's event", async () => {
    const app = createApp();
    const userId = newUserId("sink-dropped");
    // The runtime cancels a request's waitUntil work 30 s after the response or when the client goes away, and a
    // cancelled promise never settles: a send that hangs forever and a context that drops it stand for that.
    const hanging = { ...recordingQueue().queue, sendBatch: () => new Promise<never>(() => {}) };
    const dropped = { waitUntil: () => undefined, passThroughOnException: () => undefined, props: {} } as unknown as ExecutionContext;
    const first = await app.fetch(await vendMissing(userId), { ...env, AUDIT_QUEUE: hanging }, dropped);
    expect(first.status).toBe(404);

    const context = createExecutionContext();
    const second = await app.fetch(await vendMissing(userId), env, context);
    await waitOnExecutionContext(context);

    expect(second.status).toBe(404);
    // The second request's event goes through the audit queue, whose consumer writes it.
    expect(await waitForAudit(userId, "token.vended")).toHaveLength(1);
  });
});
