/**
 * The life of a connection over real HTTP against `wrangler dev`: connect through a browser and the local
 * oidc-provider, vend, refresh after a real expiry, a burst of concurrent vends, the cron (through the local queues),
 * disconnect, history.
 * Tests run in order and build on each other's connections (one user per scenario).
 */
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { Connection, VendedToken } from "../test/support/api-client";
import type { Browser } from "../test/support/cookie-browser";
import { expectProblem } from "../test/support/problems";
import { newUserId } from "../test/support/users";
import { ACCESS_TOKEN_TTL_SECONDS } from "./support/endpoints";
import {
  newBrowser,
  api,
  apiJson,
  auditEvents,
  authorizeInBrowser,
  beginConnect,
  connectLocalOidc,
  endpoints,
  getConnection,
  oidcEvents,
  RETURN_TO_ORIGIN,
  runCron,
  sleep,
  userinfoStatus,
  vend,
  vendOk,
  type Connected,
} from "./support/service";

/** The connection of the connect scenario; later scenarios vend, refresh and finally disconnect it. */
let connected: Connected;

describe("connecting an account through a browser", () => {
  const userId = newUserId("connect");
  const account = `acct-${userId}`;
  let replay: { browser: Browser; callbackUrl: URL };

  it("goes start URL -> issuer login and consent -> callback -> return_to with status=connected", async () => {
    const returnTo = `${RETURN_TO_ORIGIN}/settings/connections`;
    const begun = await beginConnect(userId, "local-oidc", { return_to: returnTo });
    expect(begun.authorization_url.startsWith(`${endpoints().serviceOrigin}/v1/oauth/local-oidc/start?`)).toBe(true);
    expect(Date.parse(begun.expires_at) - Date.now()).toBeLessThanOrEqual(600_000);

    const { browser, startResponse, callbackUrl } = await authorizeInBrowser(begun.authorization_url, { login_hint: account });
    expect(new URL(startResponse.headers.get("location")!).origin).toBe(endpoints().oidcIssuer);
    const binding = startResponse.headers.get("set-cookie") ?? "";
    expect(binding).toMatch(/;\s*HttpOnly/i);
    expect(binding).toMatch(/;\s*SameSite=Lax/i);
    expect(binding).toMatch(/;\s*Path=\/v1\/oauth\//i);
    expect(Number(/Max-Age=(\d+)/i.exec(binding)?.[1])).toBeLessThanOrEqual(600);
    expect(callbackUrl.searchParams.get("iss")).toBe(endpoints().oidcIssuer);

    const callback = await browser.request(callbackUrl);
    expect(callback.status).toBe(302);
    const back = new URL(callback.headers.get("location")!);
    expect(`${back.origin}${back.pathname}`).toBe(returnTo);
    expect(back.searchParams.get("status")).toBe("connected");
    const connectionId = back.searchParams.get("connection_id")!;

    const connection = await getConnection(userId, connectionId);
    expect(connection).toMatchObject({
      provider: "local-oidc",
      status: "active",
      account: { id: account, email: `${account}@example.com` },
    });
    expect(connection.scopes).toEqual(expect.arrayContaining(["openid", "email", "offline_access"]));
    expect(Date.parse(connection.access_token_expires_at!)).toBeGreaterThan(Date.now());
    expect((await oidcEvents(account)).counts.authorization_code).toBe(1);
    connected = { userId, connection, flow: account };
    replay = { browser, callbackUrl };
  });

  it("a replayed callback answers 400 invalid-state, without a redirect, and creates nothing", async () => {
    const response = await replay.browser.request(replay.callbackUrl);
    expect(response.headers.get("location")).toBeNull();
    await expectProblem(response, 400, "invalid-state");
    const { connections } = await apiJson<{ connections: Connection[] }>(userId, "/v1/connections");
    expect(connections.map((connection) => connection.id)).toEqual([connected.connection.id]);
    expect((await oidcEvents(account)).counts.authorization_code).toBe(1);
  });

  it("a callback reaching a browser that never opened the start URL (no binding cookie) answers 400 invalid-state", async () => {
    const other = newUserId("no-cookie");
    const begun = await beginConnect(other, "local-oidc");
    const { callbackUrl } = await authorizeInBrowser(begun.authorization_url, { login_hint: `acct-${other}` });
    await expectProblem(await newBrowser().request(callbackUrl), 400, "invalid-state");
    expect((await apiJson<{ connections: Connection[] }>(other, "/v1/connections")).connections).toEqual([]);
  });
});

describe("vending and refreshing", () => {
  /** Connected now, vended by nobody until the burst, so its token expires untouched. */
  let burst: Connected;
  let first: VendedToken;

  beforeAll(async () => {
    burst = await connectLocalOidc(newUserId("burst"));
  });

  it("a token that stays valid long enough comes from storage: no upstream call, no-store", async () => {
    const response = await vend(connected.userId, connected.connection.id, { min_validity_seconds: 5 });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toContain("no-store");
    first = (await response.json()) as VendedToken;
    expect(first).toMatchObject({ token_type: "Bearer", expires_at: connected.connection.access_token_expires_at });
    expect((await vendOk(connected.userId, connected.connection.id, { min_validity_seconds: 5 })).access_token).toBe(first.access_token);
    expect(await userinfoStatus(first.access_token)).toBe(200);
    expect((await oidcEvents(connected.flow)).counts.refresh_token).toBe(0);
  });

  it("a caller JWT without connections:token is refused with 403", async () => {
    const response = await api(connected.userId, `/v1/connections/${connected.connection.id}/token`, { method: "POST", body: {} });
    await expectProblem(response, 403, "forbidden");
  });

  it("required_scopes that were not granted answer 403 with missing_scopes", async () => {
    const problem = await expectProblem(
      await vend(connected.userId, connected.connection.id, { required_scopes: ["api:write"] }),
      403,
      "insufficient-scope",
    );
    expect(problem.missing_scopes).toEqual(["api:write"]);
  });

  it(`after the ${ACCESS_TOKEN_TTL_SECONDS} s access token really expired, the next vend refreshes it at the issuer once`, async () => {
    // The service's own clock decides: oidc-provider still accepts a token for its 15 s clock tolerance.
    await sleep(Date.parse(first.expires_at!) - Date.now() + 1_000);

    const refreshed = await vendOk(connected.userId, connected.connection.id, { min_validity_seconds: 5 });
    expect(refreshed.access_token).not.toBe(first.access_token);
    expect(Date.parse(refreshed.expires_at!)).toBeGreaterThan(Date.now() + 5_000);
    expect(await userinfoStatus(refreshed.access_token)).toBe(200);
    expect((await oidcEvents(connected.flow)).counts).toMatchObject({ refresh_token: 1, token_error: 0 });
    const connection = await getConnection(connected.userId, connected.connection.id);
    expect(connection.last_refreshed_at).not.toBeNull();
    expect(connection.access_token_expires_at).toBe(refreshed.expires_at);
  });

  it("200 concurrent vends of an expired token share exactly one upstream refresh", async () => {
    await sleep(Date.parse(burst.connection.access_token_expires_at!) - Date.now() + 1_000);
    expect((await oidcEvents(burst.flow)).counts.refresh_token).toBe(0);

    const responses = await Promise.all(
      Array.from({ length: 200 }, () => vend(burst.userId, burst.connection.id, { min_validity_seconds: 5 })),
    );
    const statuses = responses.map((response) => response.status);
    expect(
      statuses.filter((status) => status !== 200),
      `statuses: ${[...new Set(statuses)].join(",")}`,
    ).toEqual([]);
    const tokens = new Set(await Promise.all(responses.map(async (response) => ((await response.json()) as VendedToken).access_token)));
    expect(tokens.size).toBe(1);
    expect((await oidcEvents(burst.flow)).counts).toMatchObject({ refresh_token: 1, token_error: 0 });
    expect(await auditEvents(burst.userId, "token.refreshed")).toHaveLength(1);
    expect(await userinfoStatus([...tokens][0]!)).toBe(200);
  });
});

describe("the cron trigger", () => {
  let cronConnection: Connected;

  beforeAll(async () => {
    cronConnection = await connectLocalOidc(newUserId("cron"));
  });

  it("refreshes an active connection expiring within the look-ahead through the queues, in the same single-flight path", async () => {
    const before = await getConnection(cronConnection.userId, cronConnection.connection.id);
    expect(before.last_refreshed_at).toBeNull();
    // A token issued with a life shorter than the look-ahead stays fresh enough until half of that life has passed.
    const issuedAt = Date.parse(before.created_at);
    await sleep(issuedAt + (Date.parse(before.access_token_expires_at!) - issuedAt) / 2 + 1_000 - Date.now());
    const tick = Date.now();
    await runCron();

    // The tick only queued the scans: the scan page and the refresh job run after it, in the local queues.
    const [event, ...others] = await vi.waitFor(
      async () => {
        const refreshed = await auditEvents(cronConnection.userId, "token.refreshed");
        expect(refreshed).not.toEqual([]);
        return refreshed;
      },
      { timeout: 30_000, interval: 100 },
    );
    console.log(`e2e: a connection refreshed ${Date.now() - tick} ms after the cron tick (wrangler dev, local queues)`);
    expect((await oidcEvents(cronConnection.flow)).counts).toMatchObject({ refresh_token: 1, token_error: 0 });
    const after = await getConnection(cronConnection.userId, cronConnection.connection.id);
    expect(after.status).toBe("active");
    expect(after.last_refreshed_at).not.toBeNull();
    expect(others).toEqual([]);
    expect(event).toMatchObject({
      actor: "cron",
      outcome: "success",
      connection_id: cronConnection.connection.id,
      detail: { trigger: "cron" },
    });
    // The backend then gets the cron's token from storage.
    const token = await vendOk(cronConnection.userId, cronConnection.connection.id, { min_validity_seconds: 5 });
    expect(token.expires_at).toBe(after.access_token_expires_at);
    expect((await oidcEvents(cronConnection.flow)).counts.refresh_token).toBe(1);
  });
});

describe("disconnecting", () => {
  it("revokes at the issuer, wipes the connection, and every later read, delete or vend answers 404", async () => {
    const { userId, connection, flow } = connected;
    const token = await vendOk(userId, connection.id, { min_validity_seconds: 0 });
    const response = await api(userId, `/v1/connections/${connection.id}`, { method: "DELETE" });
    expect(response.status).toBe(204);

    const { counts, events } = await oidcEvents(flow);
    expect(counts.revocation).toBe(1);
    expect(events.find((event) => event.type === "revocation")?.detail).toBe("refresh_token");
    // Revoking the refresh token ended the whole grant at the issuer, its access tokens included.
    expect(await userinfoStatus(token.access_token)).toBe(401);
    await expectProblem(await api(userId, `/v1/connections/${connection.id}`), 404, "not-found");
    await expectProblem(await api(userId, `/v1/connections/${connection.id}`, { method: "DELETE" }), 404, "not-found");
    await expectProblem(await vend(userId, connection.id), 404, "not-found");
    expect((await oidcEvents(flow)).counts.revocation).toBe(1);
  });
});

describe("consent and audit history", () => {
  interface Consent {
    kind: string;
    provider: string;
    connection_id: string | null;
    scopes: string[];
    created_at: string;
  }

  it("GET /v1/consents lists the grant and then the withdrawal, newest first, page by page", async () => {
    const { userId, connection } = connected;
    const all = await apiJson<{ consents: Consent[]; next_cursor: string | null }>(userId, "/v1/consents");
    expect(all.consents.map((consent) => consent.kind)).toEqual(["withdrawal", "grant"]);
    expect(all.consents.every((consent) => consent.provider === "local-oidc" && consent.connection_id === connection.id)).toBe(true);
    expect(all.consents[1]!.scopes).toEqual(expect.arrayContaining(["openid", "email", "offline_access"]));
    expect(all.next_cursor).toBeNull();

    const page1 = await apiJson<{ consents: Consent[]; next_cursor: string | null }>(userId, "/v1/consents?limit=1");
    expect(page1.consents.map((consent) => consent.kind)).toEqual(["withdrawal"]);
    expect(page1.next_cursor).not.toBeNull();
    const page2 = await apiJson<{ consents: Consent[]; next_cursor: string | null }>(
      userId,
      `/v1/consents?limit=1&cursor=${encodeURIComponent(page1.next_cursor!)}`,
    );
    expect(page2.consents.map((consent) => consent.kind)).toEqual(["grant"]);
  });

  it("GET /v1/audit tells the connection's story to its user, filters by action, and no one else sees it", async () => {
    const { userId, connection } = connected;
    const events = await auditEvents(userId);
    const actions = new Set(events.map((event) => event.action));
    for (const action of ["authorization.callback", "token.vended", "token.refreshed", "connection.removed"])
      expect(actions).toContain(action);
    expect(events.every((event) => event.user_id === userId)).toBe(true);
    expect(events.map((event) => Date.parse(event.at))).toEqual(events.map((event) => Date.parse(event.at)).sort((a, b) => b - a));
    expect(JSON.stringify(events)).not.toMatch(/access_token"|refresh_token"/);

    const refreshed = await auditEvents(userId, "token.refreshed");
    expect(refreshed.length).toBeGreaterThanOrEqual(1);
    expect(refreshed.every((event) => event.action === "token.refreshed" && event.connection_id === connection.id)).toBe(true);

    const stranger = newUserId("stranger");
    expect((await auditEvents(stranger)).filter((event) => event.user_id === userId)).toEqual([]);
    await expectProblem(await api(stranger, `/v1/audit?user_id=${userId}`), 403, "forbidden");
    const asAdmin = await apiJson<{ events: { user_id: string }[] }>(stranger, `/v1/audit?user_id=${userId}&limit=200`, { scope: "admin" });
    expect(asAdmin.events.length).toBeGreaterThanOrEqual(events.length);
    expect(asAdmin.events.every((event) => event.user_id === userId)).toBe(true);
  });
});
