import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { auditAfterResponse } from "../../src/audit/deferred-audit";
import type { NewAuditEvent } from "../../src/storage/audit-events";
import { database } from "../../src/storage/database";
import { failingDatabase } from "../support/failing-db";

afterEach(() => {
  vi.restoreAllMocks();
});

function event(userId: string): NewAuditEvent {
  return {
    at: Date.now(),
    userId,
    actor: "user",
    action: "token.vended",
    provider: "google",
    connectionId: null,
    outcome: "success",
    requestId: null,
    ip: null,
    detail: {},
  };
}

/** Queues `events` as one request would and waits for the after-response write. */
async function auditAll(db: D1Database, events: NewAuditEvent[]): Promise<void> {
  const pending: Promise<unknown>[] = [];
  const context = { waitUntil: (promise: Promise<unknown>) => void pending.push(promise) };
  for (const item of events) auditAfterResponse(database(db), context, item);
  await Promise.all(pending);
}

describe("deferred audit", () => {
  it("a failed write is logged with the number of events lost and does not reject", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const db = failingDatabase(env.DB, { batch: () => Promise.reject(new RangeError("D1 batch failed")) });

    await expect(auditAll(db, [event("deferred-a"), event("deferred-a")])).resolves.toBeUndefined();

    const lines = error.mock.calls.map(([line]) => JSON.parse(String(line)) as { message: string; events: number; error: string });
    // The first event is taken at once; the second accumulates into the next batch while the first is written.
    expect(lines.every((line) => line.message === "deferred audit write failed" && line.error === "RangeError")).toBe(true);
    expect(lines.reduce((sum, line) => sum + line.events, 0)).toBe(2);
  });

  it("names a non-Error failure unknown, and the next request's events are written", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const failing = failingDatabase(env.DB, { batch: () => Promise.reject("no") });
    await auditAll(failing, [event("deferred-b")]);
    expect(JSON.parse(String(error.mock.calls[0]?.[0]))).toMatchObject({ error: "unknown" });

    await auditAll(env.DB, [event("deferred-b")]);
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM audit_events WHERE user_id = 'deferred-b'").first<{ n: number }>();
    expect(rows?.n).toBe(1);
  });
});
