/**
 * Audit retention: the cron deletes events older than AUDIT_RETENTION_DAYS (30 in the test bindings) and keeps the
 * rest. D1 is per test file; each test clears the table so it counts its own events only.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AUDIT_DELETE_BATCH } from "../../src/scheduled/limits";
import { runScheduledTasks } from "../../src/scheduled/run";
import { vaultQueues } from "../support/vault-queues";

const DAY_MS = 86_400_000;
const RETENTION_MS = 30 * DAY_MS;

beforeEach(async () => {
  await env.DB.prepare("DELETE FROM audit_events").run();
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Inserts events at the given times (one statement per 9 rows, D1's bound-parameter limit). */
async function insertEvents(times: readonly number[], label: string): Promise<string[]> {
  const ids = times.map((_, index) => `evt_${label}_${index}_${crypto.randomUUID()}`);
  const statements = ids.map((id, index) =>
    env.DB.prepare(
      "INSERT INTO audit_events (id, at, user_id, actor, action, outcome, detail) VALUES (?, ?, ?, 'user', 'test.event', 'success', '{}')",
    ).bind(id, times[index]!, `retention-${label}`),
  );
  for (let start = 0; start < statements.length; start += 500) await env.DB.batch(statements.slice(start, start + 500));
  return ids;
}

async function remainingIds(): Promise<string[]> {
  const { results } = await env.DB.prepare("SELECT id FROM audit_events").all<{ id: string }>();
  return results.map((row) => row.id);
}

async function runCron(now: number): Promise<Record<string, unknown>> {
  const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
  // The scans the tick queues stay in recording queues: this file counts audit events only.
  await runScheduledTasks(vaultQueues().env, now);
  const lines = log.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
  const prune = lines.filter((line) => line.message === "cron.prune_audit");
  expect(prune).toHaveLength(1);
  return prune[0]!;
}

describe("audit retention in the cron", () => {
  it("deletes events older than the retention period and keeps newer ones", async () => {
    const now = Date.now();
    const old = await insertEvents([now - 31 * DAY_MS, now - RETENTION_MS - 60_000, now - 365 * DAY_MS], "old");
    const recent = await insertEvents([now - 29 * DAY_MS, now - 60_000, now], "recent");

    const summary = await runCron(now);

    expect(summary).toMatchObject({ count: old.length });
    expect((await remainingIds()).sort()).toEqual([...recent].sort());
  });

  it("keeps an event exactly as old as the retention period", async () => {
    const now = Date.now();
    const [boundary] = await insertEvents([now - RETENTION_MS], "boundary");

    await runCron(now);

    expect(await remainingIds()).toEqual([boundary]);
  });

  it("deletes more expired events than one delete batch holds in a single run", async () => {
    const now = Date.now();
    const count = AUDIT_DELETE_BATCH * 2 + 17;
    await insertEvents(
      Array.from({ length: count }, (_, index) => now - RETENTION_MS - 1 - index),
      "many",
    );
    const [kept] = await insertEvents([now - DAY_MS], "kept");

    const summary = await runCron(now);

    expect(summary).toMatchObject({ count });
    expect(await remainingIds()).toEqual([kept]);
  });
});
