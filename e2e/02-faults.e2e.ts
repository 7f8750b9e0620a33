/**
 * Faults at the issuer, for vending and for the cron's refresh jobs: 500, 429 with Retry-After, a response slower
 * than UPSTREAM_TIMEOUT_MS, a dropped connection, malformed JSON, invalid_grant (mock and real oidc-provider), and a
 * response lost after the provider already rotated the refresh token. Each case checks what the caller sees, the
 * connection's state, that exactly one request reached the issuer (no retry loop, even when asked again during the
 * cooldown), and, once the cooldown is over, that the stored refresh token still works (nothing was lost) or that
 * the connection ended needs_reauth with its reason. A cron case's job fails during the consumer's work; the queue
 * delivers it again once the connection's cooldown is over (`wrangler dev` keeps that retry in memory), and the
 * retry refreshes with the same stored refresh token.
 *
 * Order matters because the cron is global: the cron cases fail first (no vend case exists yet), their checks run
 * inside their cooldowns (30 s and more, before the queue's retries), and the vend cases are connected after the last
 * cron tick, so no cron job ever touches them.
 */
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { AuditEvent, VendBody, VendedToken } from "../test/support/api-client";
import type { MockBehaviour } from "../test/support/mock-provider-server/state";
import { expectProblem } from "../test/support/problems";
import { newUserId } from "../test/support/users";
import { SLOW_RESPONSE_MS, UPSTREAM_TIMEOUT_MS } from "./support/endpoints";
import {
  auditEvents,
  connectLocalOidc,
  connectMock,
  getConnection,
  mockFlowState,
  oidcEvents,
  refreshGrants,
  revokeAtIssuer,
  runCron,
  scriptTokenResponses,
  sleep,
  vend,
  vendOk,
  type Connected,
} from "./support/service";

type MockProvider = "google" | "microsoft" | "notion";

interface Prepared extends Connected {
  /** The access token stored before the fault (null when the token was connected already expired). */
  token0: string | null;
  /** The refresh token the provider issued at the code exchange. */
  refreshToken0: string;
}

/** The end of the last cooldown seen, so one wait serves every case. */
let cooldownsOverAt = 0;

async function retryAfterOf(response: Response): Promise<number> {
  await expectProblem(response, 503, "service-unavailable");
  const seconds = Number(response.headers.get("retry-after"));
  expect(seconds).toBeGreaterThanOrEqual(1);
  cooldownsOverAt = Math.max(cooldownsOverAt, Date.now() + seconds * 1000 + 500);
  return seconds;
}

/**
 * When the cron starts refreshing every one of `connected`: a token issued with a life shorter than the look-ahead
 * is fresh enough until half of that life has passed (docs/http-api.md, "Vending outcomes"); `created_at` is when it
 * was issued, at the connect.
 */
function halfLifeOverAt(connected: readonly Connected[]): number {
  const over = connected.map(({ connection }) => {
    const issuedAt = Date.parse(connection.created_at);
    return issuedAt + (Date.parse(connection.access_token_expires_at!) - issuedAt) / 2;
  });
  return Math.max(...over) + 1_000;
}

/** Connects a mock provider account, notes its tokens, then scripts its next token responses. */
async function prepare(label: string, provider: MockProvider, options: { expiresIn?: number; script: MockBehaviour[] }): Promise<Prepared> {
  const connected = await connectMock(newUserId(label), provider, options.expiresIn === undefined ? {} : { expiresIn: options.expiresIn });
  // A token connected already expired would be refreshed by this vend, so it is read only when still valid.
  const token0 =
    options.expiresIn === 0 ? null : (await vendOk(connected.userId, connected.connection.id, { min_validity_seconds: 0 })).access_token;
  const [first] = (await mockFlowState(connected.flow)).refresh_tokens;
  await scriptTokenResponses(connected.flow, options.script);
  return { ...connected, token0, refreshToken0: first!.token };
}

/**
 * The provider's `Retry-After: 35` outlasts the 30 s base cooldown: the deadline a caller is told must be 35 s after
 * the failure (its audit time, written just after it), where a 30 s cooldown would end 5 s earlier.
 */
async function expectProviderRetryAfterHonoured(userId: string, retryAfterSeconds: number): Promise<void> {
  const failedAt = Date.parse((await lastRefreshFailure(userId)).at);
  expect(Date.now() + retryAfterSeconds * 1000).toBeGreaterThanOrEqual(failedAt + 34_000);
}

/** A forced refresh during the cooldown answers 503 at once (honouring the provider's Retry-After), without going upstream. */
async function expectCooldownHeld(fault: TransientCase, prepared: Prepared): Promise<void> {
  const retryAfter = await retryAfterOf(await vend(prepared.userId, prepared.connection.id, { force_refresh: true }));
  if (fault === RATE_LIMITED) await expectProviderRetryAfterHonoured(prepared.userId, retryAfter);
  expect(await refreshGrants(prepared.flow)).toHaveLength(1);
}

async function lastRefreshFailure(userId: string): Promise<AuditEvent> {
  const [latest] = await auditEvents(userId, "token.refresh_failed");
  expect(latest).toBeDefined();
  return latest!;
}

async function expectStatus(connection: Connected, status: "active" | "needs_reauth"): Promise<void> {
  expect((await getConnection(connection.userId, connection.connection.id)).status).toBe(status);
}

/** Polls until the user has an audit event of `action` (the queues' consumers run after the cron tick), for at most 60 s. */
async function untilAudited(userId: string, action: string): Promise<AuditEvent[]> {
  return vi.waitFor(
    async () => {
      const events = await auditEvents(userId, action);
      expect(events, `${userId}: ${action}`).not.toEqual([]);
      return events;
    },
    { timeout: 60_000, interval: 200 },
  );
}

interface TransientCase {
  name: string;
  provider: MockProvider;
  fault: MockBehaviour;
  /** The audit reason the failure is recorded with. */
  reason: string;
  /**
   * The vend case: the token's lifetime at connect (default: the provider's, beyond the cron's look-ahead) and the
   * first request. A forced refresh or an expired token leaves the caller 503; a still-valid token is served.
   */
  vending: { expiresIn?: number; request: VendBody; outcome: "503" | "stored token" };
}

const FORCED = { request: { force_refresh: true }, outcome: "503" } as const;
const TRANSIENT: TransientCase[] = [
  { name: "500 with an HTML body", provider: "google", fault: { failure: "server_error_html" }, reason: "http_500", vending: FORCED },
  {
    name: "429 with Retry-After: 35",
    provider: "microsoft",
    fault: { failure: "rate_limited", retry_after: "35" },
    reason: "rate_limited",
    // A 40 s token past half its life: too short for the 1,200 s asked, still valid to serve when the refresh fails.
    vending: { expiresIn: 40, request: { min_validity_seconds: 1200 }, outcome: "stored token" },
  },
  {
    name: `no answer within UPSTREAM_TIMEOUT_MS (${UPSTREAM_TIMEOUT_MS} ms)`,
    provider: "google",
    fault: { failure: "delay", delay_ms: SLOW_RESPONSE_MS },
    reason: "timeout",
    vending: FORCED,
  },
  { name: "a dropped connection", provider: "microsoft", fault: { failure: "drop" }, reason: "network", vending: FORCED },
  {
    name: "malformed JSON with status 200",
    provider: "google",
    fault: { failure: "malformed_json" },
    reason: "malformed_response",
    // Connected already expired, so it sits in the cron's look-ahead: it is in a cooldown whenever the cron runs.
    vending: { expiresIn: 0, request: {}, outcome: "503" },
  },
];
const RATE_LIMITED = TRANSIENT[1]!;

/** The cron cases' connections, checked again in the last phase. */
const cronCases = {
  transient: new Map<TransientCase, Prepared>(),
  revoked: undefined as unknown as Prepared,
  lost: undefined as unknown as Prepared,
};

describe("the cron's refresh jobs under refresh faults", () => {
  /**
   * Tokens issued for 80 s: inside the 600 s look-ahead, and shorter-lived than it, so the cron leaves each alone
   * until half its life (40 s) has passed; then still valid for callers for the checks that follow.
   */
  const EXPIRES_IN = 80;
  const { transient } = cronCases;

  beforeAll(async () => {
    const prepared = await Promise.all(
      TRANSIENT.map((fault) => prepare(`cron-${fault.reason}`, fault.provider, { expiresIn: EXPIRES_IN, script: [fault.fault] })),
    );
    TRANSIENT.forEach((fault, index) => transient.set(fault, prepared[index]!));
    cronCases.revoked = await prepare("cron-invalid-grant", "google", { expiresIn: EXPIRES_IN, script: [{ failure: "invalid_grant" }] });
    // Notion rotates (the old refresh token dies); the reply is then lost to a timeout.
    cronCases.lost = await prepare("cron-lost", "notion", {
      expiresIn: EXPIRES_IN,
      script: [{ failure: "delay", delay_ms: SLOW_RESPONSE_MS, after_rotation: true }],
    });
    await sleep(halfLifeOverAt([...transient.values(), cronCases.revoked, cronCases.lost]) - Date.now());
    await runCron();
    // Each job's one attempt (the slowest waits UPSTREAM_TIMEOUT_MS); its cooldown now holds the queue's retry back.
    for (const prepared of [...transient.values(), cronCases.revoked, cronCases.lost])
      await untilAudited(prepared.userId, "token.refresh_failed");
  }, 150_000);

  for (const fault of TRANSIENT) {
    it(`${fault.name}: the connection stays active with its token, one request upstream, forced vends get 503 during the cooldown`, async () => {
      const prepared = transient.get(fault)!;
      await expectStatus(prepared, "active");
      expect(await refreshGrants(prepared.flow)).toEqual([prepared.refreshToken0]);
      expect(await lastRefreshFailure(prepared.userId)).toMatchObject({
        actor: "cron",
        detail: { trigger: "cron", class: "transient", reason: fault.reason },
      });
      expect((await vendOk(prepared.userId, prepared.connection.id, { min_validity_seconds: 0 })).access_token).toBe(prepared.token0);
      await expectCooldownHeld(fault, prepared);
    });
  }

  it("invalid_grant: the connection needs re-authorization and vends answer 409", async () => {
    const { revoked } = cronCases;
    await expectStatus(revoked, "needs_reauth");
    expect(await refreshGrants(revoked.flow)).toEqual([revoked.refreshToken0]);
    expect(await lastRefreshFailure(revoked.userId)).toMatchObject({ actor: "cron", detail: { class: "reauth", reason: "invalid_grant" } });
    const problem = await expectProblem(await vend(revoked.userId, revoked.connection.id), 409, "needs-reauth");
    expect(problem.connection_status).toBe("needs_reauth");
  });

  it("a reply lost after Notion rotated: still active on the stored token, the old refresh token is dead upstream", async () => {
    const { lost } = cronCases;
    await expectStatus(lost, "active");
    expect((await mockFlowState(lost.flow)).refresh_tokens).toEqual([
      { token: lost.refreshToken0, alive: false },
      { token: expect.any(String), alive: true },
    ]);
    expect(await lastRefreshFailure(lost.userId)).toMatchObject({ detail: { trigger: "cron", class: "transient", reason: "timeout" } });
    expect((await vendOk(lost.userId, lost.connection.id, { min_validity_seconds: 0 })).access_token).toBe(lost.token0);
    await retryAfterOf(await vend(lost.userId, lost.connection.id, { force_refresh: true }));
  });

  it("a second cron tick during the cooldowns queues none of them: its jobs are done, and nothing more went upstream", async () => {
    // Connected already expired: the tick queues it, and once it is refreshed the tick's scan and jobs have run.
    const canary = await connectMock(newUserId("cron-canary"), "google", { expiresIn: 0 });
    await runCron();
    await untilAudited(canary.userId, "token.refreshed");
    for (const prepared of [...transient.values(), cronCases.revoked, cronCases.lost])
      expect(await refreshGrants(prepared.flow)).toHaveLength(1);
  });
});

/** The vend cases' connections and first answers, checked again in the last phase. */
const vendCases = {
  transient: new Map<TransientCase, { prepared: Prepared; response: Response; ms: number }>(),
  lost: undefined as unknown as Prepared,
};

describe("vending under refresh faults", () => {
  const { transient } = vendCases;
  let revoked: Prepared;
  let revokedAtIssuer: Connected & { token0: string };

  beforeAll(async () => {
    const prepared = await Promise.all(
      TRANSIENT.map((fault) =>
        prepare(`vend-${fault.reason}`, fault.provider, {
          script: [fault.fault],
          ...(fault.vending.expiresIn === undefined ? {} : { expiresIn: fault.vending.expiresIn }),
        }),
      ),
    );
    // All first requests at once, so the timeout case's wait overlaps the others.
    await Promise.all(
      TRANSIENT.map(async (fault, index) => {
        // A token younger than half its life is fresh for any min_validity_seconds no longer than its life.
        if (fault.vending.outcome === "stored token") await sleep(halfLifeOverAt([prepared[index]!]) - Date.now());
        const started = Date.now();
        const response = await vend(prepared[index]!.userId, prepared[index]!.connection.id, fault.vending.request);
        transient.set(fault, { prepared: prepared[index]!, response, ms: Date.now() - started });
      }),
    );
    revoked = await prepare("vend-invalid-grant", "google", { script: [{ failure: "invalid_grant" }] });
    const oidc = await connectLocalOidc(newUserId("vend-revoked-at-issuer"));
    revokedAtIssuer = { ...oidc, token0: (await vendOk(oidc.userId, oidc.connection.id, { min_validity_seconds: 0 })).access_token };
    vendCases.lost = await prepare("vend-lost", "notion", { script: [{ failure: "drop", after_rotation: true }] });
  }, 120_000);

  for (const fault of TRANSIENT) {
    it(`${fault.name}: the caller gets ${fault.vending.outcome}, the connection stays active, one request upstream`, async () => {
      const { prepared, response, ms } = transient.get(fault)!;
      if (fault.vending.outcome === "stored token") {
        expect(response.status).toBe(200);
        expect(((await response.json()) as VendedToken).access_token).toBe(prepared.token0);
      } else {
        await retryAfterOf(response);
      }
      if (fault.reason === "timeout") {
        // The caller waited for the service's timeout, not for the slow provider.
        expect(ms).toBeGreaterThanOrEqual(UPSTREAM_TIMEOUT_MS - 100);
        expect(ms).toBeLessThan(SLOW_RESPONSE_MS);
      }
      await expectStatus(prepared, "active");
      expect(await refreshGrants(prepared.flow)).toEqual([prepared.refreshToken0]);
      expect(await lastRefreshFailure(prepared.userId)).toMatchObject({
        actor: "backend",
        detail: { class: "transient", reason: fault.reason },
      });

      await expectCooldownHeld(fault, prepared);
    });
  }

  it("invalid_grant: 409 needs-reauth, the connection needs re-authorization, and asking again goes nowhere", async () => {
    const problem = await expectProblem(await vend(revoked.userId, revoked.connection.id, { force_refresh: true }), 409, "needs-reauth");
    expect(problem.connection_status).toBe("needs_reauth");
    await expectStatus(revoked, "needs_reauth");
    expect(await lastRefreshFailure(revoked.userId)).toMatchObject({
      detail: { trigger: "force", class: "reauth", reason: "invalid_grant" },
    });
    await expectProblem(await vend(revoked.userId, revoked.connection.id, { force_refresh: true }), 409, "needs-reauth");
    await expectProblem(await vend(revoked.userId, revoked.connection.id), 409, "needs-reauth");
    expect(await refreshGrants(revoked.flow)).toEqual([revoked.refreshToken0]);
  });

  it("invalid_grant: connecting the same account again heals the connection in place", async () => {
    const again = await connectMock(revoked.userId, "google", { flow: revoked.flow });
    expect(again.connection).toMatchObject({ id: revoked.connection.id, status: "active" });
    const token = await vendOk(revoked.userId, revoked.connection.id, { force_refresh: true });
    expect(token.access_token).not.toBe(revoked.token0);
    expect(await refreshGrants(revoked.flow)).toHaveLength(2);
  });

  it("a grant revoked at the real oidc-provider: invalid_grant, 409 and needs_reauth, then healed by connecting again", async () => {
    const { userId, connection, flow, token0 } = revokedAtIssuer;
    await revokeAtIssuer(token0);
    expect((await oidcEvents(flow)).counts.revocation).toBe(1);
    await expectProblem(await vend(userId, connection.id, { force_refresh: true }), 409, "needs-reauth");
    await expectStatus(revokedAtIssuer, "needs_reauth");
    expect(await lastRefreshFailure(userId)).toMatchObject({ detail: { class: "reauth", reason: "invalid_grant" } });
    await expectProblem(await vend(userId, connection.id, { force_refresh: true }), 409, "needs-reauth");
    expect((await oidcEvents(flow)).counts.refresh_token).toBe(0);

    const again = await connectLocalOidc(userId, flow);
    expect(again.connection).toMatchObject({ id: connection.id, status: "active" });
    await vendOk(userId, connection.id, { force_refresh: true });
    expect((await oidcEvents(flow)).counts).toMatchObject({ authorization_code: 2, refresh_token: 1 });
  });

  it("a reply lost after Notion rotated: 503, still active, the stored token still vended; the old refresh token is dead upstream", async () => {
    const { lost } = vendCases;
    await retryAfterOf(await vend(lost.userId, lost.connection.id, { force_refresh: true }));
    await expectStatus(lost, "active");
    expect((await mockFlowState(lost.flow)).refresh_tokens).toEqual([
      { token: lost.refreshToken0, alive: false },
      { token: expect.any(String), alive: true },
    ]);
    expect(await lastRefreshFailure(lost.userId)).toMatchObject({ detail: { class: "transient", reason: "network" } });
    // Notion sends no expiry: the stored token is vended as is while the refresh cools down.
    expect((await vendOk(lost.userId, lost.connection.id)).access_token).toBe(lost.token0);
    expect(await refreshGrants(lost.flow)).toEqual([lost.refreshToken0]);
  });
});

describe("once every cooldown is over", () => {
  // One wait for all: the cooldowns (30 s, 35 s after the 429) of every case above.
  beforeAll(async () => {
    await sleep(cooldownsOverAt - Date.now());
  }, 120_000);

  for (const fault of TRANSIENT) {
    it(`${fault.name}: the next vend refreshes with the same stored refresh token`, async () => {
      const { prepared } = vendCases.transient.get(fault)!;
      const token = await vendOk(prepared.userId, prepared.connection.id, { force_refresh: true });
      expect(token.access_token).not.toBe(prepared.token0);
      expect(await refreshGrants(prepared.flow)).toEqual([prepared.refreshToken0, prepared.refreshToken0]);
      const connection = await getConnection(prepared.userId, prepared.connection.id);
      expect(connection).toMatchObject({ status: "active", access_token_expires_at: token.expires_at });
      expect(connection.last_refreshed_at).not.toBeNull();
    });
  }

  it("the reply lost after rotation: the next attempt meets invalid_grant, needs_reauth with its reason, and stops there", async () => {
    const { lost } = vendCases;
    await expectProblem(await vend(lost.userId, lost.connection.id, { force_refresh: true }), 409, "needs-reauth");
    await expectStatus(lost, "needs_reauth");
    expect(await lastRefreshFailure(lost.userId)).toMatchObject({
      detail: { class: "reauth", reason: "invalid_grant_after_lost_response" },
    });
    await expectProblem(await vend(lost.userId, lost.connection.id, { force_refresh: true }), 409, "needs-reauth");
    expect(await refreshGrants(lost.flow)).toEqual([lost.refreshToken0, lost.refreshToken0]);
  });

  describe("the queue's retry of each failed cron job", () => {
    const cron = cronCases;

    for (const fault of TRANSIENT) {
      it(`${fault.name}: refreshes with the same stored refresh token, out of the look-ahead again`, async () => {
        const prepared = cron.transient.get(fault)!;
        await untilAudited(prepared.userId, "token.refreshed");
        expect(await refreshGrants(prepared.flow)).toEqual([prepared.refreshToken0, prepared.refreshToken0]);
        const connection = await getConnection(prepared.userId, prepared.connection.id);
        expect(connection.status).toBe("active");
        expect(Date.parse(connection.access_token_expires_at!)).toBeGreaterThan(Date.now() + 600_000);
        expect(await auditEvents(prepared.userId, "token.refreshed")).toMatchObject([{ actor: "cron", detail: { trigger: "cron" } }]);
        expect((await vendOk(prepared.userId, prepared.connection.id)).access_token).not.toBe(prepared.token0);
      });
    }

    it("invalid_grant: a connection needing re-authorization is left alone", async () => {
      expect(await refreshGrants(cron.revoked.flow)).toHaveLength(1);
      await expectStatus(cron.revoked, "needs_reauth");
    });

    it("the reply lost after rotation: invalid_grant, needs_reauth with its reason, once", async () => {
      const { lost: cronLost } = cron;
      await vi.waitFor(() => expectStatus(cronLost, "needs_reauth"), { timeout: 60_000, interval: 200 });
      expect(await lastRefreshFailure(cronLost.userId)).toMatchObject({
        actor: "cron",
        detail: { class: "reauth", reason: "invalid_grant_after_lost_response" },
      });
      expect(await refreshGrants(cronLost.flow)).toEqual([cronLost.refreshToken0, cronLost.refreshToken0]);
      await expectProblem(await vend(cronLost.userId, cronLost.connection.id), 409, "needs-reauth");
    });
  });
});
