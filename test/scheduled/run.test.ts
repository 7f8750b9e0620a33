/**
 * The cron trigger's tasks: it queues the first page of the refresh scan and of the re-encryption scans of connections
 * and of webhook secrets (the queues' consumers do the rest, test/scheduled/cron-refresh.test.ts,
 * test/vault/key-rotation.test.ts and test/webhooks/endpoints-key-rotation.test.ts), prunes the audit
 * trail (./retention.test.ts), and keeps each task's failure to itself.
 */
import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { runScheduledTasks } from "../../src/scheduled/run";
import { databaseDown } from "../support/failing-db";
import { logsOf } from "../support/logs";
import { vaultQueues } from "../support/vault-queues";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("a cron tick", () => {
  it("queues the first page of the refresh scan and of both re-encryption scans, and nothing else", async () => {
    const queues = vaultQueues();
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    const now = Date.now();

    await runScheduledTasks(queues.env, now);

    expect(queues.scans.take()).toEqual([
      // REFRESH_LOOKAHEAD_SECONDS in the test bindings.
      { kind: "refresh", now, lookaheadSeconds: 600, after: null },
      { kind: "re_encrypt", now, afterId: null },
      { kind: "re_encrypt_webhooks", now, afterId: null },
    ]);
    expect(queues.jobs.sent).toEqual([]);
  });

  it("through the Worker's scheduled handler logs one JSON line per task, in order", async () => {
    const queues = vaultQueues();
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);

    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "*/5 * * * *" }), queues.env);

    expect(logsOf(log).lines()).toEqual([
      { message: "cron.refresh", queued: "vault-scans", ms: expect.any(Number) },
      { message: "cron.re_encrypt", queued: "vault-scans", ms: expect.any(Number) },
      { message: "cron.re_encrypt_webhooks", queued: "vault-scans", ms: expect.any(Number) },
      { message: "cron.prune_audit", count: expect.any(Number), ms: expect.any(Number) },
      { message: "cron.prune_webhook_deliveries", count: expect.any(Number), ms: expect.any(Number) },
    ]);
    expect(queues.scans.sent).toHaveLength(3);
  });
});

describe("cron tasks", () => {
  it("a task that throws is logged once and does not stop the others", async () => {
    const queues = vaultQueues();
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    // The refresh task's send is the first; only it fails.
    vi.spyOn(queues.scans, "send").mockRejectedValueOnce(new TypeError("Queue send failed"));

    await runScheduledTasks(queues.env, Date.now());

    const failures = logsOf(error)
      .lines()
      .filter((line) => String(line.message).startsWith("cron."));
    expect(failures).toEqual([{ message: "cron.refresh failed", error: "TypeError", ms: expect.any(Number) }]);
    expect(
      logsOf(log)
        .lines()
        .map((line) => line.message),
    ).toEqual(["cron.re_encrypt", "cron.re_encrypt_webhooks", "cron.prune_audit", "cron.prune_webhook_deliveries"]);
    expect(queues.scans.take()).toEqual([
      expect.objectContaining({ kind: "re_encrypt" }),
      expect.objectContaining({ kind: "re_encrypt_webhooks" }),
    ]);
  });

  it("logs a thrown non-Error as unknown", async () => {
    const queues = vaultQueues({ ...env, DB: databaseDown(env.DB) });
    vi.spyOn(console, "log").mockImplementation(() => {});
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    vi.spyOn(queues.scans, "send").mockImplementation(() => {
      throw "not an error";
    });

    await runScheduledTasks(queues.env, Date.now());

    const failures = logsOf(error)
      .lines()
      .filter((line) => String(line.message).startsWith("cron."));
    expect(failures.map((line) => line.message)).toEqual([
      "cron.refresh failed",
      "cron.re_encrypt failed",
      "cron.re_encrypt_webhooks failed",
      "cron.prune_audit failed",
      "cron.prune_webhook_deliveries failed",
    ]);
    expect(failures[0]?.error).toBe("unknown");
  });
});
