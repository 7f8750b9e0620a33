/**
 * Proactive refresh through the queues: which connections a cron tick's scan queues a job for, how it pages through
 * them, how a queued connection is kept from being queued twice, and what the jobs then do at the mock provider. The
 * queues are delivered by the test (test/support/vault-queues.ts). D1 is per test file: every test starts from an
 * empty connections table, so what a scan queues is its rows only.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SCAN_PAGE_SIZE } from "../../src/queues/limits";
import { VAULT_QUEUES } from "../../src/queues/messages";
import { useEnvInVault } from "../support/app-with-env";
import { BROKEN_PROVIDER, brokenDiscoveryEnv, endCooldown, refreshesAt, seedGoogleConnection } from "../support/refresh-fixtures";
import { deleteAllConnections, K3, readRow, seedConnection, seedConnections, type SeedOptions } from "../support/seed-connections";
import { mockProvider } from "../support/toolkit";
import { newUserId } from "../support/users";
import { deliver, readScanPages, scanAt, tick, vaultQueues } from "../support/vault-queues";

/** REFRESH_LOOKAHEAD_SECONDS in the test bindings. */
const LOOKAHEAD_MS = 600_000;

beforeEach(deleteAllConnections);
afterEach(() => {
  vi.restoreAllMocks();
});

/** The connections a tick at `now` queues a refresh job for (the jobs are not run). */
async function queuedAt(now: number): Promise<string[]> {
  vi.spyOn(console, "log").mockImplementation(() => undefined);
  return refreshJobs(await scanAt(vaultQueues(), now)).map((job) => job.connectionId);
}

/** The refresh jobs among a tick's (rows under a key no longer in the ring get a re-encryption job too). */
function refreshJobs<Job extends { kind: string }>(jobs: readonly Job[]): Job[] {
  return jobs.filter((job) => job.kind === "refresh");
}

describe("the connections a cron tick queues for a refresh", () => {
  it("an active connection whose token expires inside the look-ahead window: its job refreshes it", async () => {
    const now = Date.now();
    const { id, flow } = await seedGoogleConnection({ userId: newUserId("cron-window-in"), expiresAt: now + LOOKAHEAD_MS / 2 });
    const before = (await readRow(id))!;

    const done = await tick(vaultQueues(), now);

    expect(done.jobs.map((job) => job.connectionId)).toEqual([id]);
    expect(done.settled[0]!.settled).toEqual({ acked: true, retried: false });
    expect(done.refresh).toMatchObject({ refreshed: 1 });
    expect(await refreshesAt(flow)).toBe(1);
    const row = (await readRow(id))!;
    expect(row.accessTokenCiphertext).not.toBe(before.accessTokenCiphertext);
    expect(row.accessTokenExpiresAt).toBeGreaterThan(now + LOOKAHEAD_MS);
    expect(row.lastRefreshedAt).toBeGreaterThanOrEqual(now);
  });

  it("not a connection whose token expires after the look-ahead window", async () => {
    const now = Date.now();
    await seedGoogleConnection({ userId: newUserId("cron-window-out"), expiresAt: now + LOOKAHEAD_MS + 60_000 });

    expect(await queuedAt(now)).toEqual([]);
  });

  it("by the window's end exclusively: a token expiring exactly at now + look-ahead waits for a later tick", async () => {
    const now = Date.now();
    const userId = newUserId("cron-edge");
    const inside = await seedConnection({ userId, expiresAt: now + LOOKAHEAD_MS - 1 });
    await seedConnection({ userId, expiresAt: now + LOOKAHEAD_MS });

    expect(await queuedAt(now)).toEqual([inside.id]);
  });

  it("never a connection that needs re-authorization", async () => {
    const now = Date.now();
    await seedGoogleConnection({ userId: newUserId("cron-reauth"), expiresAt: now - 60_000, status: "needs_reauth" });

    expect(await queuedAt(now)).toEqual([]);
  });

  it("never a connection without a refresh token, which stays active and unchanged", async () => {
    const now = Date.now();
    const row = await seedConnection({ userId: newUserId("cron-no-rt"), expiresAt: now + 60_000, refreshToken: null });

    expect(await queuedAt(now)).toEqual([]);
    expect((await readRow(row.id))!).toMatchObject({ status: "active", lastRefreshFailure: null, version: 1 });
  });

  it("never a connection whose expiry is unknown", async () => {
    const now = Date.now();
    await seedGoogleConnection({ userId: newUserId("cron-null-expiry"), expiresAt: null });

    expect(await queuedAt(now)).toEqual([]);
  });

  it("not a connection cooling down after a failed refresh, and it once the cooldown has passed", async () => {
    const now = Date.now();
    const cooling = await seedGoogleConnection({
      userId: newUserId("cron-cooldown"),
      expiresAt: now + 60_000,
      refreshBlockedUntil: now + 120_000,
    });
    const over = await seedGoogleConnection({
      userId: newUserId("cron-cooldown-over"),
      expiresAt: now + 60_000,
      refreshBlockedUntil: now - 1,
    });

    expect(await queuedAt(now)).toEqual([over.id]);
    expect(await queuedAt(now + 120_000)).toEqual([cooling.id]);
  });
});

describe("a connection whose provider issues access tokens shorter-lived than the look-ahead", () => {
  it("is left alone while half of its token's life remains, and queued once less remains", async () => {
    const now = Date.now();
    const userId = newUserId("cron-half-life");
    // 120-second tokens: always inside the 10-minute window.
    const halfLeft = await seedGoogleConnection({ userId, expiresAt: now + 70_000, issuedAt: now - 50_000 });
    const lessLeft = await seedGoogleConnection({ userId, expiresAt: now + 50_000, issuedAt: now - 70_000 });

    const done = await tick(vaultQueues(), now);

    expect(done.jobs.map((job) => job.connectionId)).toEqual([lessLeft.id]);
    expect(await refreshesAt(halfLeft.flow)).toBe(0);
    expect(await refreshesAt(lessLeft.flow)).toBe(1);
  });

  it("is refreshed once by its job even though the new token still expires inside the window", async () => {
    const now = Date.now();
    const { id, flow } = await seedGoogleConnection({ userId: newUserId("cron-short-lived"), expiresAt: now + 60_000 });
    // 5-minute tokens (shorter than the 10-minute look-ahead), for the next few refreshes.
    await mockProvider.scriptResponses(flow, "token", [{ expires_in: 300 }, { expires_in: 300 }, { expires_in: 300 }]);

    const done = await tick(vaultQueues(), now);

    expect(done.jobs).toHaveLength(1);
    expect(await refreshesAt(flow)).toBe(1);
    expect((await readRow(id))!.accessTokenExpiresAt).toBeLessThan(Date.now() + LOOKAHEAD_MS);
  });
});

describe("a connection a tick queued", () => {
  it("is not queued again by later ticks of the same look-ahead window while its job waits, and is once the window has passed", async () => {
    const now = Date.now();
    const { id } = await seedGoogleConnection({ userId: newUserId("cron-twice"), expiresAt: now + 60_000 });

    const first = await queuedAt(now);
    const sameTickAgain = await queuedAt(now);
    const nextTick = await queuedAt(now + 300_000);
    const afterTheWindow = await queuedAt(now + LOOKAHEAD_MS);

    expect(first).toEqual([id]);
    expect(sameTickAgain).toEqual([]);
    expect(nextTick).toEqual([]);
    expect(afterTheWindow).toEqual([id]);
  });

  it("is queued again inside the window once its refresh landed and its short-lived token is due again", async () => {
    const now = Date.now();
    const { id, flow } = await seedGoogleConnection({ userId: newUserId("cron-due-again"), expiresAt: now + 60_000 });
    await mockProvider.scriptResponses(flow, "token", [{ expires_in: 240 }]);

    const first = await tick(vaultQueues(), now);
    // Three quarters of the new 240-second token's life later: due again by the half-life rule.
    const later = await queuedAt(Date.now() + 180_000);

    expect(first.refresh).toMatchObject({ refreshed: 1 });
    expect(later).toEqual([id]);
  });
});

function expiringSoon(label: string, now: number): (index: number) => SeedOptions {
  // Several users, expiries spread over the window with ties, so keyset paging meets equal expiry values.
  return (index) => ({ userId: `${label}-${index % 7}`, expiresAt: now + 1_000 * (index % 13) });
}

describe("one tick over more connections than a scan page holds", () => {
  it("queues every expiring connection exactly once, page after page, at most 100 jobs per send", async () => {
    const now = Date.now();
    const rows = await seedConnections(SCAN_PAGE_SIZE * 2 + 7, expiringSoon(newUserId("cron-pages"), now));
    const queues = vaultQueues();
    vi.spyOn(console, "log").mockImplementation(() => undefined);

    const jobs = await scanAt(queues, now);

    expect(jobs).toHaveLength(rows.length);
    expect(new Set(jobs.map((job) => job.connectionId))).toEqual(new Set(rows.map((row) => row.id)));
    expect(Math.max(...queues.jobs.batchSizes)).toBeLessThanOrEqual(100);
    expect(await queuedAt(now)).toEqual([]);
  }, 60_000);

  it("reads one page per scan message, queueing the next only when the page was full", async () => {
    const now = Date.now();
    await seedConnections(SCAN_PAGE_SIZE + 3, expiringSoon(newUserId("cron-page-by-page"), now));
    const queues = vaultQueues();
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);

    await scanAt(queues, now);

    const pages = log.mock.calls
      .map(([line]) => JSON.parse(String(line)) as Record<string, unknown>)
      .filter((line) => line.message === `queue.${VAULT_QUEUES.scans}` && line.kind === "refresh");
    expect(pages.map(({ jobs, more }) => ({ jobs, more }))).toEqual([
      { jobs: SCAN_PAGE_SIZE, more: true },
      { jobs: 3, more: false },
    ]);
  }, 60_000);

  it("refreshes a healthy connection queued behind a whole page of connections whose refresh always fails, and the next tick queues none of them again", async () => {
    const now = Date.now();
    const label = newUserId("cron-stuck");
    // Ahead of the healthy one in expiry order: a provider the configuration no longer has, and a key the ring lost.
    await seedConnections(SCAN_PAGE_SIZE, (index) => ({
      userId: `${label}-${index % 8}`,
      expiresAt: now + 1_000 + index,
      ...(index % 2 === 0 ? { provider: "retired-sso" } : { keys: K3 }),
    }));
    const healthy = await seedGoogleConnection({ userId: newUserId("cron-stuck-healthy"), expiresAt: now + 300_000 });
    vi.spyOn(console, "error").mockImplementation(() => undefined);

    const done = await tick(vaultQueues(), now);
    const nextTick = await queuedAt(now + 300_000);

    expect(refreshJobs(done.jobs)).toHaveLength(SCAN_PAGE_SIZE + 1);
    expect(done.refresh).toMatchObject({ refreshed: 1, operator: SCAN_PAGE_SIZE / 2, reauth: SCAN_PAGE_SIZE / 2 });
    expect(await refreshesAt(healthy.flow)).toBe(1);
    expect(nextTick).toEqual([]);
  }, 60_000);
});

describe("failing connections in a tick", () => {
  it("do not stop the others; each job is settled by its failure's class", async () => {
    const now = Date.now();
    const expiresAt = now + 60_000;
    const healthy = await seedGoogleConnection({ userId: newUserId("cron-mixed"), expiresAt });
    const revoked = await seedGoogleConnection({ userId: newUserId("cron-mixed"), expiresAt });
    const outage = await seedGoogleConnection({ userId: newUserId("cron-mixed"), expiresAt });
    const misconfigured = await seedGoogleConnection({ userId: newUserId("cron-mixed"), expiresAt });
    // Written under a key neither the Worker nor its Durable Object holds: only the user can bring new tokens.
    const unreadable = await seedConnection({ userId: newUserId("cron-mixed"), expiresAt, keys: K3 });
    await mockProvider.scriptResponses(revoked.flow, "token", [{ failure: "invalid_grant" }]);
    await mockProvider.scriptResponses(outage.flow, "token", [{ failure: "temporarily_unavailable", status: 503 }]);
    await mockProvider.scriptResponses(misconfigured.flow, "token", [{ failure: "invalid_client" }]);
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);

    const done = await tick(vaultQueues(), now);

    expect(done.refresh).toMatchObject({ refreshed: 1, fresh: 0, transient: 1, reauth: 2, operator: 1, not_found: 0, error: 0 });
    const retried = done.settled.filter(({ settled }) => settled.retried);
    expect(retried.map(({ job, settled }) => ({ id: job.connectionId, delaySeconds: settled.delaySeconds }))).toEqual([
      { id: outage.id, delaySeconds: 30 },
    ]);
    expect(refreshJobs(done.settled.map(({ job }) => job))).toHaveLength(5);
    expect(done.settled.filter(({ job, settled }) => job.kind === "refresh" && settled.acked)).toHaveLength(4);
    expect((await readRow(healthy.id))!.lastRefreshedAt).toBeGreaterThanOrEqual(now);
    expect((await readRow(revoked.id))!).toMatchObject({ status: "needs_reauth", statusReason: "invalid_grant" });
    expect((await readRow(outage.id))!.refreshBlockedUntil).toBeGreaterThan(now);
    expect((await readRow(misconfigured.id))!).toMatchObject({ status: "active", lastRefreshFailure: "invalid_client" });
    expect((await readRow(unreadable.id))!).toMatchObject({ status: "needs_reauth", statusReason: "key_unavailable" });
    expect(errors.mock.calls.map(([line]) => String(line)).join("\n")).toContain("decrypts with no key in the ring");
  });

  it("a transient failure is retried by the queue after the cooldown, not queued again meanwhile, and the retry refreshes with the same refresh token", async () => {
    const now = Date.now();
    const outage = await seedGoogleConnection({ userId: newUserId("cron-retry"), expiresAt: now + 60_000 });
    await mockProvider.scriptResponses(outage.flow, "token", [{ failure: "server_error_html" }]);
    const queues = vaultQueues();

    const done = await tick(queues, now);
    const duringCooldown = await queuedAt(now + 10_000);
    // The queue delivers the retry once the delay (the cooldown) has passed.
    await endCooldown(outage.id);
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    const retried = await deliver(VAULT_QUEUES.jobs, done.jobs, queues.env, 2);

    expect(done.settled.map(({ settled }) => settled)).toEqual([{ acked: false, retried: true, delaySeconds: 30 }]);
    expect(duringCooldown).toEqual([]);
    expect(retried).toEqual([{ acked: true, retried: false }]);
    const grants = await mockProvider.refreshGrants(outage.flow);
    expect(grants).toHaveLength(2);
    expect(grants[1]).toBe(grants[0]);
    expect((await readRow(outage.id))!).toMatchObject({ status: "active", refreshBlockedUntil: null, lastRefreshFailure: null });
  });

  it("at an OpenID provider whose discovery answers 404: an operator failure, acknowledged, and the next tick does not queue it", async () => {
    const now = Date.now();
    const broken = await brokenDiscoveryEnv("not_found");
    const row = await seedConnection({ userId: newUserId("cron-broken"), provider: BROKEN_PROVIDER, expiresAt: now + 60_000 });
    await useEnvInVault(row.userId, broken.env);
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const queues = vaultQueues(broken.env);

    const first = await tick(queues, now);
    const second = await tick(queues, now + 1_000);

    expect(first.refresh).toMatchObject({ operator: 1, error: 0 });
    expect(first.settled.map(({ settled }) => settled)).toEqual([{ acked: true, retried: false }]);
    expect(second.jobs).toEqual([]);
    expect(await broken.discoveryFetches()).toBe(1);
    const after = (await readRow(row.id))!;
    expect(after.status).toBe("active");
    expect(after.refreshBlockedUntil).toBeGreaterThan(now + 1_000);
  });
});

describe("a scan page", () => {
  it("whose jobs cannot be queued is retried without marking its rows, so its connections are queued by the retry", async () => {
    const now = Date.now();
    const row = await seedConnection({ userId: newUserId("cron-send-fails"), expiresAt: now + 60_000 });
    const queues = vaultQueues();
    const failing = {
      ...queues.env,
      VAULT_JOB_QUEUE: { sendBatch: () => Promise.reject(new Error("Queue send failed")) },
    } as unknown as Env;
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const firstPage = { kind: "refresh", now, lookaheadSeconds: LOOKAHEAD_MS / 1000, after: null };

    const refused = await deliver(VAULT_QUEUES.scans, [firstPage], failing);
    const unmarked = (await readRow(row.id))!.refreshEnqueuedAt;
    const retried = await deliver(VAULT_QUEUES.scans, [firstPage], queues.env, 2);

    expect(refused).toEqual([{ acked: false, retried: true }]);
    expect(unmarked).toBeNull();
    expect(errors.mock.calls.map(([line]) => JSON.parse(String(line)) as unknown)).toContainEqual({
      message: "scan page failed; retried",
      kind: "refresh",
      attempts: 1,
      error: "Error",
    });
    expect(retried).toEqual([{ acked: true, retried: false }]);
    expect(queues.jobs.take().map((job) => job.connectionId)).toEqual([row.id]);
    expect((await readRow(row.id))!.refreshEnqueuedAt).toBe(now);
  });

  it("that cannot be read is acknowledged and logged without its body", async () => {
    const queues = vaultQueues();
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);

    const settled = await deliver(VAULT_QUEUES.scans, [{ kind: "refresh", now: "soon", secret: "ya29.x" }], queues.env);
    await readScanPages(queues);

    expect(settled).toEqual([{ acked: true, retried: false }]);
    const logged = errors.mock.calls.map(([line]) => String(line)).join("\n");
    expect(logged).toContain("scan page unreadable; dropped");
    expect(logged).not.toContain("ya29");
    expect(queues.jobs.sent).toEqual([]);
  });
});
