/**
 * Retention in the cron: audit events and webhook delivery attempts older than AUDIT_RETENTION_DAYS (30 in the test
 * bindings) are deleted in bounded batches, and the rest kept. Both tables are pruned alike (src/scheduled/retention.ts),
 * so one set of tests runs against each. D1 is per test file; each test clears its table so it counts its own rows only.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AUDIT_DELETE_BATCH } from "../../src/scheduled/limits";
import { runScheduledTasks } from "../../src/scheduled/run";
import { vaultQueues } from "../support/vault-queues";

const DAY_MS = 86_400_000;
const RETENTION_MS = 30 * DAY_MS;

interface RetainedTable {
  name: string;
  table: string;
  /** The cron's log line for this table's prune. */
  logMessage: string;
  /** Inserts the row `id` at `at`. */
  insert: (id: string, at: number) => D1PreparedStatement;
}

const TABLES: RetainedTable[] = [
  {
    name: "audit events",
    table: "audit_events",
    logMessage: "cron.prune_audit",
    insert: (id, at) =>
      env.DB.prepare(
        "INSERT INTO audit_events (id, at, user_id, actor, action, outcome, detail) VALUES (?, ?, 'retention', 'user', 'test.event', 'success', '{}')",
      ).bind(id, at),
  },
  {
    name: "webhook delivery attempts",
    table: "webhook_deliveries",
    logMessage: "cron.prune_webhook_deliveries",
    insert: (id, at) =>
      env.DB.prepare(
        "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, attempt, status, at) VALUES (?, 'wh_retention', 'msg_retention', 'user.erased', 1, 'delivered', ?)",
      ).bind(id, at),
  },
];

afterEach(() => {
  vi.restoreAllMocks();
});

describe.each(TABLES)("retention of $name in the cron", ({ table, logMessage, insert }) => {
  beforeEach(async () => {
    await env.DB.prepare(`DELETE FROM ${table}`).run();
  });

  /** Inserts rows at the given times, 500 statements to a batch. */
  async function insertRows(times: readonly number[], label: string): Promise<string[]> {
    const ids = times.map((_, index) => `${label}_${index}_${crypto.randomUUID()}`);
    const statements = ids.map((id, index) => insert(id, times[index]!));
    for (let start = 0; start < statements.length; start += 500) await env.DB.batch(statements.slice(start, start + 500));
    return ids;
  }

  async function remainingIds(): Promise<string[]> {
    const { results } = await env.DB.prepare(`SELECT id FROM ${table}`).all<{ id: string }>();
    return results.map((row) => row.id);
  }

  /** Runs the cron at `now` and returns its one log line for this table's prune. */
  async function runCron(now: number): Promise<Record<string, unknown>> {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    // The scans the tick queues stay in recording queues: this file counts retained rows only.
    await runScheduledTasks(vaultQueues().env, now);
    const lines = log.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
    const prune = lines.filter((line) => line.message === logMessage);
    expect(prune).toHaveLength(1);
    return prune[0]!;
  }

  it("deletes rows older than the retention period and keeps newer ones, the boundary included", async () => {
    const now = Date.now();
    const old = await insertRows([now - 31 * DAY_MS, now - RETENTION_MS - 1, now - RETENTION_MS - 60_000, now - 365 * DAY_MS], "old");
    const kept = await insertRows([now - RETENTION_MS, now - 29 * DAY_MS, now - 60_000, now], "kept");

    expect(await runCron(now)).toMatchObject({ count: old.length });
    expect((await remainingIds()).sort()).toEqual([...kept].sort());
  });

  it("keeps a row exactly as old as the retention period", async () => {
    const now = Date.now();
    const [boundary] = await insertRows([now - RETENTION_MS], "boundary");

    await runCron(now);

    expect(await remainingIds()).toEqual([boundary]);
  });

  it("deletes more expired rows than one delete batch holds in a single run", async () => {
    const now = Date.now();
    const count = AUDIT_DELETE_BATCH * 2 + 17;
    await insertRows(
      Array.from({ length: count }, (_, index) => now - RETENTION_MS - 1 - index),
      "many",
    );
    const [kept] = await insertRows([now - DAY_MS], "kept");

    expect(await runCron(now)).toMatchObject({ count });
    expect(await remainingIds()).toEqual([kept]);
  });
});
