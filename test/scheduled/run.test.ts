import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { runScheduledTasks } from "../../src/scheduled/run";
import { failingDatabase } from "../support/failing-db";

afterEach(() => {
  vi.restoreAllMocks();
});

function logged(spy: { mock: { calls: unknown[][] } }): Array<Record<string, unknown>> {
  return spy.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
}

describe("cron tasks", () => {
  it("a task that throws is logged once and does not stop the others", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    let calls = 0;
    // The first statement of the run is the refresh task's query; only it fails.
    const db = failingDatabase(env.DB, {
      prepare: (...args: unknown[]) => {
        calls += 1;
        if (calls === 1) throw new TypeError("D1 is down");
        return env.DB.prepare(args[0] as string);
      },
    });

    await runScheduledTasks({ ...env, DB: db }, Date.now());

    const failures = logged(error).filter((line) => String(line.message).startsWith("cron."));
    expect(failures).toEqual([{ message: "cron.refresh failed", error: "TypeError", ms: expect.any(Number) }]);
    const messages = logged(log).map((line) => line.message);
    expect(messages).toContain("cron.re_encrypt");
    expect(messages).toContain("cron.prune_audit");
    expect(messages).not.toContain("cron.refresh");
  });

  it("logs a thrown non-Error as unknown", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const db = failingDatabase(env.DB, {
      prepare: () => {
        throw "not an error";
      },
    });

    await runScheduledTasks({ ...env, DB: db }, Date.now());

    const failures = logged(error).filter((line) => String(line.message).startsWith("cron."));
    expect(failures.map((line) => line.message)).toEqual(["cron.refresh failed", "cron.re_encrypt failed", "cron.prune_audit failed"]);
    expect(failures[0]?.error).toBe("unknown");
  });
});
