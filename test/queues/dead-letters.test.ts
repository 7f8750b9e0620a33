/**
 * The dead-letter consumer (`vault-jobs-dlq`): what failed every attempt is recorded, as an audit event the history
 * API shows and a log line, and acknowledged. Messages are delivered through the Worker's own queue handler.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { JOB_MAX_RETRIES, SCAN_MAX_RETRIES } from "../../src/queues/limits";
import { VAULT_QUEUES } from "../../src/queues/messages";
import { auditEvents } from "../support/refresh-fixtures";
import { service } from "../support/toolkit";
import { newUserId } from "../support/users";
import { deliver, vaultQueues } from "../support/vault-queues";

afterEach(() => {
  vi.restoreAllMocks();
});

async function deadLetterEventsWithoutUser(): Promise<{ detail: Record<string, unknown> }[]> {
  const { results } = await env.DB.prepare(
    "SELECT detail FROM audit_events WHERE action = 'vault.job_dead_lettered' AND user_id IS NULL ORDER BY at, id",
  ).all<{ detail: string }>();
  return results.map((row) => ({ detail: JSON.parse(row.detail) as Record<string, unknown> }));
}

describe("a refresh job that failed every attempt", () => {
  it("is recorded for its user and connection (job kind, attempts), logged, and acknowledged", async () => {
    const userId = newUserId("dead-refresh");
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);

    const settled = await deliver(VAULT_QUEUES.deadLetters, [{ kind: "refresh", userId, connectionId: "conn_dead" }], vaultQueues().env);

    expect(settled).toEqual([{ acked: true, retried: false }]);
    const [event, ...others] = await auditEvents(userId, "vault.job_dead_lettered");
    expect(others).toEqual([]);
    expect(event).toMatchObject({
      outcome: "failure",
      actor: "cron",
      detail: { job: "refresh", attempts: JOB_MAX_RETRIES + 1 },
    });
    expect(errors.mock.calls.map(([line]) => JSON.parse(String(line)) as unknown)).toContainEqual({
      message: "vault job dead-lettered",
      queue: "vault-jobs-dlq",
      job: "refresh",
      connectionId: "conn_dead",
      attempts: JOB_MAX_RETRIES + 1,
    });
  });

  it("shows in the user's history through the API, with the connection it concerns", async () => {
    const userId = newUserId("dead-history");
    vi.spyOn(console, "error").mockImplementation(() => undefined);

    await deliver(VAULT_QUEUES.deadLetters, [{ kind: "re_encrypt", userId, connectionId: "conn_dead_rotation" }], vaultQueues().env);

    const events = await service.auditEvents(userId, "vault.job_dead_lettered");
    expect(events).toMatchObject([{ connection_id: "conn_dead_rotation", outcome: "failure", detail: { job: "re_encrypt" } }]);
  });
});

describe("other messages in the dead-letter queue", () => {
  it("a scan page is recorded without a user, and a body nobody can read is recorded as unreadable, never copied", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const before = (await deadLetterEventsWithoutUser()).length;

    const settled = await deliver(
      VAULT_QUEUES.deadLetters,
      [{ kind: "re_encrypt", now: Date.now(), afterId: null }, { refresh_token: "1//leaked" }],
      vaultQueues().env,
    );

    expect(settled).toEqual([
      { acked: true, retried: false },
      { acked: true, retried: false },
    ]);
    const recorded = (await deadLetterEventsWithoutUser()).slice(before);
    // Both are written in one batch, often in the same millisecond, where their order is their random ids'.
    const jobs = recorded.map(({ detail }) => ({ job: String(detail.job), attempts: detail.attempts }));
    expect(jobs.sort((a, b) => a.job.localeCompare(b.job))).toEqual([
      { job: "re_encrypt_scan", attempts: SCAN_MAX_RETRIES + 1 },
      { job: "unreadable", attempts: null },
    ]);
    expect(JSON.stringify(recorded)).not.toContain("leaked");
  });
});
