/**
 * The webhook delivery log's retention: the cron deletes attempts older than AUDIT_RETENTION_DAYS (30 in the test
 * bindings), as it does audit events, and keeps the rest. D1 is per test file; each test clears the table.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AUDIT_DELETE_BATCH } from "../../src/scheduled/limits";
import { runScheduledTasks } from "../../src/scheduled/run";
import { vaultQueues } from "../support/vault-queues";

const DAY_MS = 86_400_000;
const RETENTION_MS = 30 * DAY_MS;

beforeEach(async () => {
  await env.DB.prepare("DELETE FROM webhook_deliveries").run();
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Records attempts at the given times. */
async function recordAttempts(times: readonly number[], label: string): Promise<string[]> {
  const ids = times.map((_, index) => `whd_${label}_${index}_${crypto.randomUUID()}`);
  const statements = ids.map((id, index) =>
    env.DB.prepare(
      "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, attempt, status, at) VALUES (?, 'wh_retention', 'msg_retention', 'user.erased', 1, 'delivered', ?)",
    ).bind(id, times[index]!),
  );
  for (let start = 0; start < statements.length; start += 500) await env.DB.batch(statements.slice(start, start + 500));
  return ids;
}

async function remainingIds(): Promise<string[]> {
  const { results } = await env.DB.prepare("SELECT id FROM webhook_deliveries").all<{ id: string }>();
  return results.map((row) => row.id);
}

async function runCron(now: number): Promise<Record<string, unknown>> {
  const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
  await runScheduledTasks(vaultQueues().env, now);
  const lines = log.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
  const prune = lines.filter((line) => line.message === "cron.prune_webhook_deliveries");
  expect(prune).toHaveLength(1);
  return prune[0]!;
}

describe("delivery log retention in the cron", () => {
  it("deletes attempts older than the audit trail's retention period and keeps newer ones, the boundary included", async () => {
    const now = Date.now();
    const old = await recordAttempts([now - 31 * DAY_MS, now - RETENTION_MS - 1, now - 365 * DAY_MS], "old");
    const kept = await recordAttempts([now - RETENTION_MS, now - 29 * DAY_MS, now], "kept");

    expect(await runCron(now)).toMatchObject({ count: old.length });
    expect((await remainingIds()).sort()).toEqual([...kept].sort());
  });

  it("deletes more expired attempts than one delete batch holds in a single run", async () => {
    const now = Date.now();
    const count = AUDIT_DELETE_BATCH + 17;
    await recordAttempts(
      Array.from({ length: count }, (_, index) => now - RETENTION_MS - 1 - index),
      "many",
    );

    expect(await runCron(now)).toMatchObject({ count });
    expect(await remainingIds()).toEqual([]);
  });
});
