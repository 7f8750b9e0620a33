import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app";
import { AuditSink } from "../../src/audit/audit-sink";
import { database } from "../../src/storage/database";
import { authHeaders } from "../support/caller-token";
import { failingDatabase } from "../support/failing-db";
import { newUserId } from "../support/users";
import { WORKER_ORIGIN } from "../support/worker";

afterEach(() => {
  vi.restoreAllMocks();
});

async function auditCount(userId: string, action: string): Promise<number> {
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM audit_events WHERE user_id = ? AND action = ?")
    .bind(userId, action)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** A vend of a connection that does not exist: a 404 whose `token.vended` event is written after the response. */
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
    const sink = new AuditSink(database(db), { requestId: null, ip: null, userId: "sink-a", actor: "user" }, Date.now);
    sink.record({ action: "user.erased", outcome: "success" });
    sink.record({ action: "user.erased", outcome: "success" });

    await expect(sink.flush()).resolves.toBeUndefined();

    expect(JSON.parse(String(error.mock.calls[0]?.[0]))).toEqual({ message: "audit write failed", events: 2, error: "RangeError" });
  });

  it("names a non-Error failure by its type", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const db = failingDatabase(env.DB, { batch: () => Promise.reject("no") });
    const sink = new AuditSink(database(db), { requestId: null, ip: null, userId: "sink-b", actor: "user" }, Date.now);
    sink.recordAfterResponse({ action: "token.vended", outcome: "success" });
    await sink.flushAfterResponse();
    expect(JSON.parse(String(error.mock.calls[0]?.[0]))).toMatchObject({ error: "string" });
  });

  it("a request whose after-response write never settles (its waitUntil dropped) stops no later request's audit", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const app = createApp();
    const userId = newUserId("sink-dropped");
    // The runtime cancels a request's waitUntil work 30 s after the response or when the client goes away, and a
    // cancelled promise never settles: a write that hangs forever and a context that drops it stand for that.
    const hanging = failingDatabase(env.DB, { batch: () => new Promise(() => {}) });
    const dropped = { waitUntil: () => undefined, passThroughOnException: () => undefined, props: {} } as unknown as ExecutionContext;
    const first = await app.fetch(await vendMissing(userId), { ...env, DB: hanging }, dropped);
    expect(first.status).toBe(404);

    const context = createExecutionContext();
    const second = await app.fetch(await vendMissing(userId), env, context);
    await waitOnExecutionContext(context);

    expect(second.status).toBe(404);
    expect(await auditCount(userId, "token.vended")).toBe(1);
  });
});
