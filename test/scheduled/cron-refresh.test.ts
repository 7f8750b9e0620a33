/**
 * The cron's proactive refresh: which connections it selects, how it pages through them within the per-run bounds,
 * how many refreshes it runs at once, how a failing connection is isolated and counted, and the summary it logs.
 * D1 is per test file: every test starts from an empty connections table so the summaries count its rows only.
 */
import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import type { RefreshResult } from "../../src/vault/refresh";
import { CRON_CONCURRENCY, CRON_PAGE_SIZE, MAX_REFRESHES_PER_RUN } from "../../src/scheduled/limits";
import {
  refreshBatch,
  refreshExpiringConnections,
  type RefreshOne,
  type RefreshSummary,
  type RefreshTarget,
} from "../../src/scheduled/refresh-expiring";
import { runScheduledTasks } from "../../src/scheduled/run";
import { database } from "../../src/storage/database";
import { configuredProvider, connect, tokensOf } from "../providers/support";
import { useEnvInVault } from "../support/app-with-env";
import { newMockId } from "../support/mock-control";
import { BROKEN_PROVIDER, brokenDiscoveryEnv } from "../support/refresh-fixtures";
import {
  decryptRow,
  deleteAllConnections,
  K3,
  readRow,
  seedConnection,
  seedConnections,
  type SeedOptions,
} from "../support/seed-connections";
import { mockProvider } from "../support/toolkit";
import { newUserId } from "../support/users";

/** REFRESH_LOOKAHEAD_SECONDS in the test bindings. */
const LOOKAHEAD_MS = 600_000;

beforeEach(deleteAllConnections);
afterEach(() => {
  vi.restoreAllMocks();
});

/** A connection holding a live Google refresh token of a mock flow of its own, so a refresh really happens. */
async function seedGoogleConnection(options: Omit<SeedOptions, "refreshToken" | "provider">): Promise<{ id: string; flow: string }> {
  const flow = newMockId("cron");
  const tokens = tokensOf((await connect(configuredProvider("google"), { mock_flow: flow })).result);
  const row = await seedConnection({ ...options, provider: "google", refreshToken: tokens.refreshToken, accessToken: tokens.accessToken });
  return { id: row.id, flow };
}

/** Token requests the mock received for the flow after its code exchange: the refreshes. */
async function refreshesAt(flow: string): Promise<number> {
  return (await mockProvider.flowState(flow)).token_requests - 1;
}

interface CronLine {
  message: string;
  [field: string]: unknown;
}

/** Runs the cron once and returns the JSON lines it logged. */
async function runCron(now = Date.now()): Promise<CronLine[]> {
  const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
  await runScheduledTasks(env, now);
  const lines = log.mock.calls.map(([line]) => JSON.parse(String(line)) as CronLine);
  log.mockRestore();
  return lines;
}

function refreshSummary(lines: CronLine[]): CronLine {
  const summaries = lines.filter((line) => line.message === "cron.refresh");
  expect(summaries).toHaveLength(1);
  return summaries[0]!;
}

describe("the cron's selection of connections to refresh", () => {
  it("refreshes an active connection whose token expires inside the look-ahead window", async () => {
    const now = Date.now();
    const { id, flow } = await seedGoogleConnection({ userId: "cron-window-in", expiresAt: now + LOOKAHEAD_MS / 2 });
    const before = await decryptRow((await readRow(id))!);

    const summary = refreshSummary(await runCron(now));

    expect(summary).toMatchObject({ scanned: 1, refreshed: 1 });
    expect(await refreshesAt(flow)).toBe(1);
    const row = (await readRow(id))!;
    expect((await decryptRow(row)).accessToken).not.toBe(before.accessToken);
    expect(row.accessTokenExpiresAt).toBeGreaterThan(now + LOOKAHEAD_MS);
    expect(row.lastRefreshedAt).toBeGreaterThanOrEqual(now);
  });

  it("leaves a connection whose token expires after the look-ahead window alone", async () => {
    const now = Date.now();
    const { id, flow } = await seedGoogleConnection({ userId: "cron-window-out", expiresAt: now + LOOKAHEAD_MS + 60_000 });

    const summary = refreshSummary(await runCron(now));

    expect(summary).toMatchObject({ scanned: 0, refreshed: 0 });
    expect(await refreshesAt(flow)).toBe(0);
    expect((await readRow(id))!.lastRefreshedAt).toBeNull();
  });

  it("selects by the window's end exclusively: a token expiring exactly at now + look-ahead waits for the next run", async () => {
    const now = Date.now();
    const inside = await seedConnection({ userId: "cron-edge", expiresAt: now + LOOKAHEAD_MS - 1 });
    await seedConnection({ userId: "cron-edge", expiresAt: now + LOOKAHEAD_MS });
    const seen: string[] = [];

    await refreshExpiringConnections(database(env.DB), recording(seen), { now, lookaheadSeconds: LOOKAHEAD_MS / 1000 });

    expect(seen).toEqual([inside.id]);
  });

  it("never selects a connection that needs re-authorization", async () => {
    const now = Date.now();
    const { id, flow } = await seedGoogleConnection({ userId: "cron-reauth", expiresAt: now - 60_000, status: "needs_reauth" });

    const summary = refreshSummary(await runCron(now));

    expect(summary).toMatchObject({ scanned: 0 });
    expect(await refreshesAt(flow)).toBe(0);
    expect((await readRow(id))!.status).toBe("needs_reauth");
  });

  it("never selects a connection without a refresh token, and does not mark it needs_reauth", async () => {
    const now = Date.now();
    const row = await seedConnection({ userId: "cron-no-rt", expiresAt: now + 60_000, refreshToken: null });

    const summary = refreshSummary(await runCron(now));

    expect(summary).toMatchObject({ scanned: 0 });
    expect((await readRow(row.id))!).toMatchObject({ status: "active", lastRefreshFailure: null, version: 1 });
  });

  it("never selects a connection whose expiry is unknown", async () => {
    const now = Date.now();
    const { id, flow } = await seedGoogleConnection({ userId: "cron-null-expiry", expiresAt: null });

    const summary = refreshSummary(await runCron(now));

    expect(summary).toMatchObject({ scanned: 0 });
    expect(await refreshesAt(flow)).toBe(0);
    expect((await readRow(id))!.version).toBe(1);
  });

  it("skips a connection that is cooling down after a failed refresh", async () => {
    const now = Date.now();
    const { id, flow } = await seedGoogleConnection({
      userId: "cron-cooldown",
      expiresAt: now + 60_000,
      refreshBlockedUntil: now + 120_000,
    });

    const summary = refreshSummary(await runCron(now));

    expect(summary).toMatchObject({ scanned: 0 });
    expect(await refreshesAt(flow)).toBe(0);
    expect((await readRow(id))!.lastRefreshedAt).toBeNull();
  });

  it("refreshes a connection again once its cooldown has passed", async () => {
    const now = Date.now();
    const { id, flow } = await seedGoogleConnection({
      userId: "cron-cooldown-over",
      expiresAt: now + 60_000,
      refreshBlockedUntil: now - 1,
    });

    const summary = refreshSummary(await runCron(now));

    expect(summary).toMatchObject({ scanned: 1, refreshed: 1 });
    expect(await refreshesAt(flow)).toBe(1);
    expect((await readRow(id))!.refreshBlockedUntil).toBeNull();
  });

  it("refreshes a connection once per run even when the provider's new token still expires inside the window", async () => {
    const now = Date.now();
    const { id, flow } = await seedGoogleConnection({ userId: "cron-short-lived", expiresAt: now + 60_000 });
    // A provider issuing 5-minute tokens (shorter than the 10-minute look-ahead), for the next few refreshes.
    await mockProvider.scriptResponses(flow, "token", [{ expires_in: 300 }, { expires_in: 300 }, { expires_in: 300 }]);

    const summary = refreshSummary(await runCron(now));

    expect(await refreshesAt(flow)).toBe(1);
    expect(summary).toMatchObject({ scanned: 1, refreshed: 1 });
    expect((await readRow(id))!.accessTokenExpiresAt).toBeLessThan(Date.now() + LOOKAHEAD_MS);
  });
});

describe("a failing connection in a cron run", () => {
  it("does not stop the others, and the summary counts each failure by its class", async () => {
    const now = Date.now();
    const expiresAt = now + 60_000;
    const healthy = await seedGoogleConnection({ userId: "cron-mixed-a", expiresAt });
    const revoked = await seedGoogleConnection({ userId: "cron-mixed-b", expiresAt });
    const outage = await seedGoogleConnection({ userId: "cron-mixed-c", expiresAt });
    const misconfigured = await seedGoogleConnection({ userId: "cron-mixed-d", expiresAt });
    // Written under a key neither the Worker nor its Durable Object holds: only the user can bring new tokens.
    const unreadable = await seedConnection({ userId: "cron-mixed-e", expiresAt, keys: K3 });
    await mockProvider.scriptResponses(revoked.flow, "token", [{ failure: "invalid_grant" }]);
    await mockProvider.scriptResponses(outage.flow, "token", [{ failure: "temporarily_unavailable", status: 503 }]);
    await mockProvider.scriptResponses(misconfigured.flow, "token", [{ failure: "invalid_client" }]);
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);

    const summary = refreshSummary(await runCron(now));

    expect(summary).toMatchObject({
      scanned: 5,
      refreshed: 1,
      unchanged: 0,
      skipped: 0,
      failed: { transient: 1, reauth: 2, operator: 1, error: 0 },
    });
    expect((await readRow(healthy.id))!.lastRefreshedAt).toBeGreaterThanOrEqual(now);
    expect((await readRow(revoked.id))!).toMatchObject({ status: "needs_reauth", statusReason: "invalid_grant" });
    expect((await readRow(outage.id))!.refreshBlockedUntil).toBeGreaterThan(now);
    expect((await readRow(misconfigured.id))!).toMatchObject({ status: "active", lastRefreshFailure: "invalid_client" });
    expect((await readRow(unreadable.id))!).toMatchObject({ status: "needs_reauth", statusReason: "key_unavailable" });
    expect(errors.mock.calls.map(([line]) => String(line)).join("\n")).toContain("decrypts with no key in the ring");
  });
});

describe("connections whose refresh always fails", () => {
  it("cool down, so the next run reaches a healthy connection queued behind a whole run's worth of them", async () => {
    const now = Date.now();
    // Ahead of the healthy one in expiry order: a provider the configuration no longer has, and a key the ring lost.
    await seedConnections(MAX_REFRESHES_PER_RUN, (index) => ({
      userId: `cron-stuck-${index % 8}`,
      expiresAt: now + 1_000 + index,
      ...(index % 2 === 0 ? { provider: "retired-sso" } : { keys: K3 }),
    }));
    const healthy = await seedGoogleConnection({ userId: "cron-stuck-healthy", expiresAt: now + 300_000 });
    vi.spyOn(console, "error").mockImplementation(() => undefined);

    const first = refreshSummary(await runCron(now));
    const second = refreshSummary(await runCron(now + 1_000));

    expect(first.scanned).toBe(MAX_REFRESHES_PER_RUN);
    expect(second).toMatchObject({ scanned: 1, refreshed: 1 });
    expect(await refreshesAt(healthy.flow)).toBe(1);
  }, 60_000);

  it("at an OpenID provider whose discovery answers 404 counts as an operator failure, and the next run does not retry it", async () => {
    const now = Date.now();
    const broken = await brokenDiscoveryEnv("not_found");
    const row = await seedConnection({ userId: newUserId("cron-broken"), provider: BROKEN_PROVIDER, expiresAt: now + 60_000 });
    await useEnvInVault(row.userId, broken.env);
    vi.spyOn(console, "error").mockImplementation(() => undefined);

    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    await runScheduledTasks(broken.env, now);
    await runScheduledTasks(broken.env, now + 1_000);
    const summaries = log.mock.calls
      .map(([line]) => JSON.parse(String(line)) as CronLine)
      .filter((line) => line.message === "cron.refresh");

    expect(summaries[0]).toMatchObject({ scanned: 1, failed: { operator: 1, error: 0 } });
    expect(summaries[1]).toMatchObject({ scanned: 0 });
    expect(await broken.discoveryFetches()).toBe(1);
    const after = (await readRow(row.id))!;
    expect(after.status).toBe("active");
    expect(after.refreshBlockedUntil).toBeGreaterThan(now + 1_000);
  });
});

describe("a connection whose provider issues access tokens shorter-lived than the look-ahead", () => {
  it("is left alone while half of its token's life remains, and refreshed once less remains", async () => {
    const now = Date.now();
    // 120-second tokens: always inside the 10-minute window.
    const halfLeft = await seedGoogleConnection({ userId: "cron-half-life", expiresAt: now + 70_000, issuedAt: now - 50_000 });
    const lessLeft = await seedGoogleConnection({ userId: "cron-half-life", expiresAt: now + 50_000, issuedAt: now - 70_000 });

    const summary = refreshSummary(await runCron(now));

    expect(await refreshesAt(halfLeft.flow)).toBe(0);
    expect(await refreshesAt(lessLeft.flow)).toBe(1);
    expect(summary).toMatchObject({ scanned: 1, refreshed: 1 });
  });
});

describe("the cron's summary", () => {
  it("is one JSON line per task, the refresh line with scanned, refreshed, unchanged, skipped and failures by class", async () => {
    const now = Date.now();
    await seedGoogleConnection({ userId: "cron-log", expiresAt: now + 60_000 });
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);

    // Through the Worker's own scheduled handler, as the cron trigger calls it.
    await worker.scheduled(createScheduledController({ scheduledTime: now, cron: "*/5 * * * *" }), env);

    const lines = log.mock.calls.map(([line]) => JSON.parse(String(line)) as CronLine);
    expect(lines.map((line) => line.message)).toEqual(["cron.refresh", "cron.re_encrypt", "cron.prune_audit"]);
    expect(lines[0]).toEqual({
      message: "cron.refresh",
      scanned: 1,
      refreshed: 1,
      unchanged: 0,
      skipped: 0,
      failed: { transient: 0, reauth: 0, operator: 0, error: 0 },
      ms: expect.any(Number),
    });
    expect(JSON.stringify(lines)).not.toMatch(/ya29|1\/\/mock/);
  });
});

/** A refresher that records what it was asked to refresh and reports a refresh. */
function recording(seen: string[], after?: (target: RefreshTarget) => Promise<void>): RefreshOne {
  return async (target) => {
    seen.push(target.connectionId);
    await after?.(target);
    return { kind: "token", refreshed: true, accessToken: "x", expiresAt: null, issuedAt: null, scopes: [] };
  };
}

/** What a real refresh does to the row: the new token expires well after the window. */
async function moveOutOfWindow(target: RefreshTarget): Promise<void> {
  await env.DB.prepare("UPDATE connections SET access_token_expires_at = ? WHERE id = ?")
    .bind(Date.now() + 3_600_000, target.connectionId)
    .run();
}

function expiringSoon(userPrefix: string, now: number): (index: number) => SeedOptions {
  // Several users, expiries spread over the window with ties, so keyset paging meets equal expiry values.
  return (index) => ({ userId: `${userPrefix}-${index % 7}`, expiresAt: now + 1_000 * (index % 13) });
}

describe("the cron's paging and bounds", () => {
  it("visits every expiring connection once in a run when there are more than one page of them", async () => {
    const now = Date.now();
    const rows = await seedConnections(CRON_PAGE_SIZE * 2 + 7, expiringSoon("cron-pages", now));
    const seen: string[] = [];

    const summary = await refreshExpiringConnections(database(env.DB), recording(seen, moveOutOfWindow), {
      now,
      lookaheadSeconds: LOOKAHEAD_MS / 1000,
    });

    expect(summary).toMatchObject({ scanned: rows.length, refreshed: rows.length });
    expect(seen).toHaveLength(rows.length);
    expect(new Set(seen)).toEqual(new Set(rows.map((row) => row.id)));
  }, 60_000);

  it("moves past connections whose refresh failed instead of retrying them in the same run", async () => {
    const now = Date.now();
    const rows = await seedConnections(CRON_PAGE_SIZE + 5, expiringSoon("cron-pages-failing", now));
    const seen: string[] = [];
    const failing: RefreshOne = async (target) => {
      seen.push(target.connectionId);
      return { kind: "unavailable", retryAfterSeconds: 30, stored: null };
    };

    const summary = await refreshExpiringConnections(database(env.DB), failing, { now, lookaheadSeconds: LOOKAHEAD_MS / 1000 });

    expect(summary).toMatchObject({ scanned: rows.length, failed: { transient: rows.length } });
    expect(new Set(seen).size).toBe(rows.length);
    expect(seen).toHaveLength(rows.length);
  });

  it("never has more than 6 refreshes in flight at once", async () => {
    const now = Date.now();
    await seedConnections(CRON_PAGE_SIZE + 10, expiringSoon("cron-concurrency", now));
    let inFlight = 0;
    let most = 0;
    const slow: RefreshOne = async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await scheduler.wait(2);
      inFlight--;
      return { kind: "token", refreshed: true, accessToken: "x", expiresAt: null, issuedAt: null, scopes: [] };
    };

    await refreshExpiringConnections(database(env.DB), slow, { now, lookaheadSeconds: LOOKAHEAD_MS / 1000 });

    expect(CRON_CONCURRENCY).toBe(6);
    // Reaching the bound shows the refreshes do overlap; never exceeding it is the platform limit.
    expect(most).toBe(6);
    expect(inFlight).toBe(0);
  });

  it("stops after MAX_REFRESHES_PER_RUN and leaves the rest to the next run", async () => {
    const now = Date.now();
    const rows = await seedConnections(MAX_REFRESHES_PER_RUN + 9, expiringSoon("cron-run-bound", now));
    const first: string[] = [];
    const second: string[] = [];

    const firstSummary = await refreshExpiringConnections(database(env.DB), recording(first, moveOutOfWindow), {
      now,
      lookaheadSeconds: LOOKAHEAD_MS / 1000,
    });
    const secondSummary = await refreshExpiringConnections(database(env.DB), recording(second, moveOutOfWindow), {
      now,
      lookaheadSeconds: LOOKAHEAD_MS / 1000,
    });

    expect(firstSummary.scanned).toBe(MAX_REFRESHES_PER_RUN);
    expect(first).toHaveLength(MAX_REFRESHES_PER_RUN);
    expect(secondSummary.scanned).toBe(9);
    expect(new Set([...first, ...second])).toEqual(new Set(rows.map((row) => row.id)));
  }, 60_000);
});

describe("tallying a batch of cron refreshes", () => {
  const token = (refreshed: boolean): RefreshResult => ({
    kind: "token",
    refreshed,
    accessToken: "x",
    expiresAt: null,
    issuedAt: null,
    scopes: [],
  });
  const outcomes: Record<string, RefreshResult | Error> = {
    refreshed: token(true),
    fresh: token(false),
    transient: { kind: "unavailable", retryAfterSeconds: 30, stored: null },
    reauth: { kind: "needs_reauth" },
    operator: { kind: "operator_error" },
    gone: { kind: "not_found" },
    throws: new Error("boom"),
  };

  it("counts each outcome in its own bucket and keeps going after a refresher that throws", async () => {
    const targets = Object.keys(outcomes).map((connectionId) => ({ userId: "cron-tally", connectionId }));
    const reached: string[] = [];
    const summary: RefreshSummary = {
      scanned: targets.length,
      refreshed: 0,
      unchanged: 0,
      skipped: 0,
      failed: { transient: 0, reauth: 0, operator: 0, error: 0 },
    };
    vi.spyOn(console, "error").mockImplementation(() => undefined);

    // The thrower goes first, so the others only run if one failure does not stop the batch.
    const ordered = [
      targets.find((target) => target.connectionId === "throws")!,
      ...targets.filter((target) => target.connectionId !== "throws"),
    ];
    await refreshBatch(
      ordered,
      async ({ connectionId }) => {
        reached.push(connectionId);
        const outcome = outcomes[connectionId]!;
        if (outcome instanceof Error) throw outcome;
        return outcome;
      },
      summary,
    );

    expect(reached).toHaveLength(targets.length);
    expect(summary).toEqual({
      scanned: targets.length,
      refreshed: 1,
      unchanged: 1,
      skipped: 1,
      failed: { transient: 1, reauth: 1, operator: 1, error: 1 },
    });
  });
});
