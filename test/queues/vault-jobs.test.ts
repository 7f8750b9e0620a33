/**
 * The job consumer (`vault-jobs`): each job refreshes (or re-encrypts) its connection through the user's Durable
 * Object, at the mock provider, and its message is acknowledged or retried by the outcome. Messages are delivered
 * through the Worker's own queue handler (test/support/vault-queues.ts).
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { VAULT_QUEUES, type VaultJob } from "../../src/queues/messages";
import type { RefreshResult } from "../../src/vault/refresh";
import { readRow, seedConnection } from "../support/seed-connections";
import { refreshesAt, seedGoogleConnection } from "../support/refresh-fixtures";
import { mockProvider } from "../support/toolkit";
import { newUserId } from "../support/users";
import { deliver, vaultQueues } from "../support/vault-queues";

afterEach(() => {
  vi.restoreAllMocks();
});

function refreshJob(userId: string, connectionId: string): VaultJob {
  return { kind: "refresh", userId, connectionId };
}

/** The Worker's env whose user vaults answer `refresh` with `answer` (the real objects otherwise). */
function envWithVaultRefresh(answer: (request: { userId: string; connectionId: string }) => Promise<RefreshResult>): Env {
  const namespace = {
    getByName: (userId: string) => ({
      refresh: answer,
      reEncrypt: () => Promise.reject(new Error(`unexpected re-encryption for ${userId}`)),
    }),
  };
  return { ...env, USER_VAULT: namespace as unknown as Env["USER_VAULT"] };
}

const FRESH: RefreshResult = { kind: "token", refreshed: false, accessToken: "x", expiresAt: null, issuedAt: null, scopes: [] };

describe("a batch of refresh jobs", () => {
  it("is settled message by message: refreshed, reauth, operator and not_found acknowledged; transient retried after the cooldown", async () => {
    const now = Date.now();
    const expiresAt = now + 60_000;
    const healthy = await seedGoogleConnection({ userId: newUserId("jobs-healthy"), expiresAt });
    const outage = await seedGoogleConnection({ userId: newUserId("jobs-outage"), expiresAt });
    const throttled = await seedGoogleConnection({ userId: newUserId("jobs-throttled"), expiresAt });
    const revoked = await seedGoogleConnection({ userId: newUserId("jobs-revoked"), expiresAt });
    const misconfigured = await seedGoogleConnection({ userId: newUserId("jobs-misconfigured"), expiresAt });
    await mockProvider.scriptResponses(outage.flow, "token", [{ failure: "temporarily_unavailable", status: 503 }]);
    await mockProvider.scriptResponses(throttled.flow, "token", [{ failure: "rate_limited", retry_after: "35" }]);
    await mockProvider.scriptResponses(revoked.flow, "token", [{ failure: "invalid_grant" }]);
    await mockProvider.scriptResponses(misconfigured.flow, "token", [{ failure: "invalid_client" }]);
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    const rows = [healthy, outage, throttled, revoked, misconfigured];
    const users = await Promise.all(rows.map(async ({ id }) => (await readRow(id))!.userId));
    const gone = refreshJob(newUserId("jobs-gone"), "conn_removed_meanwhile");

    const settled = await deliver(
      VAULT_QUEUES.jobs,
      [...rows.map(({ id }, index) => refreshJob(users[index]!, id)), gone],
      vaultQueues().env,
    );

    expect(settled).toEqual([
      { acked: true, retried: false },
      // The first failure's cooldown: 30 s.
      { acked: false, retried: true, delaySeconds: 30 },
      // The provider's Retry-After outlasts it.
      { acked: false, retried: true, delaySeconds: 35 },
      { acked: true, retried: false },
      { acked: true, retried: false },
      { acked: true, retried: false },
    ]);
    expect((await readRow(healthy.id))!.lastRefreshedAt).toBeGreaterThanOrEqual(now);
    expect((await readRow(revoked.id))!.status).toBe("needs_reauth");
    expect((await readRow(misconfigured.id))!).toMatchObject({ status: "active", lastRefreshFailure: "invalid_client" });
    for (const { flow } of rows) expect(await refreshesAt(flow)).toBe(1);
  });

  it("retries a connection already cooling down after the rest of its cooldown, without calling the provider", async () => {
    const now = Date.now();
    const cooling = await seedGoogleConnection({
      userId: newUserId("jobs-cooling"),
      expiresAt: now + 60_000,
      refreshBlockedUntil: now + 120_000,
    });
    const { userId } = (await readRow(cooling.id))!;
    vi.spyOn(console, "log").mockImplementation(() => undefined);

    const [settled] = await deliver(VAULT_QUEUES.jobs, [refreshJob(userId, cooling.id)], vaultQueues().env);

    expect(settled).toMatchObject({ acked: false, retried: true });
    expect(settled!.delaySeconds).toBeGreaterThan(110);
    expect(settled!.delaySeconds).toBeLessThanOrEqual(120);
    expect(await refreshesAt(cooling.flow)).toBe(0);
  });

  it("acknowledges a job whose token a vend already refreshed: a late or duplicate job refreshes nothing", async () => {
    const fresh = await seedGoogleConnection({ userId: newUserId("jobs-late"), expiresAt: Date.now() + 3_600_000 });
    const { userId } = (await readRow(fresh.id))!;
    vi.spyOn(console, "log").mockImplementation(() => undefined);

    const settled = await deliver(VAULT_QUEUES.jobs, [refreshJob(userId, fresh.id), refreshJob(userId, fresh.id)], vaultQueues().env);

    expect(settled).toEqual([
      { acked: true, retried: false },
      { acked: true, retried: false },
    ]);
    expect(await refreshesAt(fresh.flow)).toBe(0);
  });

  it("retries a job whose call to the Durable Object threw, with the consumer's retry delay, and settles the others", async () => {
    const thrower = newUserId("jobs-thrower");
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    const queuesEnv = vaultQueues(
      envWithVaultRefresh(async ({ userId }) => {
        if (userId === thrower) throw new TypeError("Durable Object is overloaded. Requests queued for too long.");
        return FRESH;
      }),
    ).env;

    // The thrower goes first: the others are settled only if one failure does not stop the batch.
    const settled = await deliver(
      VAULT_QUEUES.jobs,
      [refreshJob(thrower, "conn_a"), refreshJob(newUserId("jobs-other"), "conn_b"), refreshJob(newUserId("jobs-other"), "conn_c")],
      queuesEnv,
    );

    expect(settled).toEqual([
      { acked: false, retried: true },
      { acked: true, retried: false },
      { acked: true, retried: false },
    ]);
    const logged = errors.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
    expect(logged).toContainEqual({
      message: "vault job failed; retried",
      job: "refresh",
      connectionId: "conn_a",
      attempts: 1,
      error: "TypeError",
    });
    expect(JSON.stringify(logged)).not.toContain("overloaded");
  });

  it("acknowledges a message it cannot read, and logs it without its body", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    vi.spyOn(console, "log").mockImplementation(() => undefined);

    const settled = await deliver(VAULT_QUEUES.jobs, [{ kind: "refresh", userId: "u", token: "ya29.secret" }], vaultQueues().env);

    expect(settled).toEqual([{ acked: true, retried: false }]);
    const line = errors.mock.calls.map(([text]) => String(text)).join("\n");
    expect(line).toContain("vault job unreadable; dropped");
    expect(line).not.toContain("ya29");
  });

  it("runs its jobs side by side, never more than 6 at once (the platform's simultaneous connections)", async () => {
    let inFlight = 0;
    let most = 0;
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    const slow = vaultQueues(
      envWithVaultRefresh(async () => {
        inFlight++;
        most = Math.max(most, inFlight);
        await scheduler.wait(5);
        inFlight--;
        return FRESH;
      }),
    ).env;
    const jobs = Array.from({ length: 40 }, (_, index) => refreshJob(newUserId("jobs-concurrency"), `conn_${index}`));

    const settled = await deliver(VAULT_QUEUES.jobs, jobs, slow);

    // Reaching the bound shows the jobs overlap; never passing it is the platform limit.
    expect(most).toBe(6);
    expect(inFlight).toBe(0);
    expect(settled.every((message) => message.acked)).toBe(true);
  });

  it("logs one JSON line per batch with its outcomes by kind, and no token", async () => {
    const now = Date.now();
    const healthy = await seedGoogleConnection({ userId: newUserId("jobs-log"), expiresAt: now + 60_000 });
    const { userId } = (await readRow(healthy.id))!;
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);

    await deliver(VAULT_QUEUES.jobs, [refreshJob(userId, healthy.id), refreshJob(userId, "conn_gone")], vaultQueues().env);

    const lines = log.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
    expect(lines).toEqual([
      {
        message: "queue.vault-jobs",
        jobs: 2,
        refresh: { refreshed: 1, fresh: 0, transient: 0, reauth: 0, operator: 0, not_found: 1, error: 0 },
        re_encrypt: { re_encrypted: 0, current: 0, not_found: 0, conflict: 0, undecryptable: 0, error: 0 },
        retried: 0,
        unreadable: 0,
        ms: expect.any(Number),
      },
    ]);
    expect(JSON.stringify(lines)).not.toMatch(/ya29|1\/\/mock/);
  });
});

describe("a refresh job for a connection whose refresh token was revoked", () => {
  it("is acknowledged once: the connection needs re-authorization, and a redelivery calls the provider no more", async () => {
    const revoked = await seedGoogleConnection({ userId: newUserId("jobs-reauth"), expiresAt: Date.now() + 60_000 });
    const { userId } = (await readRow(revoked.id))!;
    await mockProvider.scriptResponses(revoked.flow, "token", [{ failure: "invalid_grant" }]);
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    const queuesEnv = vaultQueues().env;

    const first = await deliver(VAULT_QUEUES.jobs, [refreshJob(userId, revoked.id)], queuesEnv);
    const again = await deliver(VAULT_QUEUES.jobs, [refreshJob(userId, revoked.id)], queuesEnv, 2);

    expect([...first, ...again]).toEqual([
      { acked: true, retried: false },
      { acked: true, retried: false },
    ]);
    expect((await readRow(revoked.id))!).toMatchObject({ status: "needs_reauth", statusReason: "invalid_grant" });
    expect(await refreshesAt(revoked.flow)).toBe(1);
  });
});

describe("a seeded connection without a refresh token", () => {
  it("is never refreshed by a job: it needs re-authorization, and the message is acknowledged", async () => {
    const row = await seedConnection({ userId: newUserId("jobs-no-rt"), expiresAt: Date.now() - 1_000, refreshToken: null });
    vi.spyOn(console, "log").mockImplementation(() => undefined);

    const settled = await deliver(VAULT_QUEUES.jobs, [refreshJob(row.userId, row.id)], vaultQueues().env);

    expect(settled).toEqual([{ acked: true, retried: false }]);
    expect((await readRow(row.id))!).toMatchObject({ status: "needs_reauth", statusReason: "no_refresh_token" });
  });
});
