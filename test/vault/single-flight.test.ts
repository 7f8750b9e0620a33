/**
 * Single flight: however many callers ask at once, the user's Durable Object makes one upstream refresh per
 * connection and every caller gets its result. The upstream refresh is held until every caller has reached the
 * object, so the callers are concurrent with it by construction, not by luck of scheduling.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { RefreshResult } from "../../src/vault/refresh";
import type { VendBody, VendedToken } from "../support/api-client";
import {
  type Connected,
  connectLocalOidc,
  connectMock,
  expireStoredToken,
  holdNextConnectionWrite,
  holdRefreshUntilCallersArrive,
  storedPlaintext,
  storedRow,
  vendConcurrently,
  vendOk,
  watchVaultRefreshes,
} from "../support/refresh-fixtures";
import { K1, moveRowToKeys } from "../support/seed-connections";
import { localOidc, mockProvider, service } from "../support/toolkit";

const CALLERS = 120;

async function tokensOf(responses: Response[]): Promise<VendedToken[]> {
  expect(responses.map((response) => response.status)).toEqual(responses.map(() => 200));
  return Promise.all(responses.map(async (response) => (await response.json()) as VendedToken));
}

/** Asserts every caller got the same token and returns it. */
function theOneToken(tokens: VendedToken[]): string {
  const distinct = new Set(tokens.map((token) => token.access_token));
  expect(distinct.size).toBe(1);
  return [...distinct][0]!;
}

describe("concurrent vends of an expired token", () => {
  it(`make exactly one upstream refresh for ${CALLERS} callers, and all get the same new token`, async () => {
    const google = await connectMock("google", "flight-expired");
    const old = await storedPlaintext(google, "access_token");
    await expireStoredToken(google.connectionId);
    const held = await holdRefreshUntilCallersArrive(google, CALLERS);

    const tokens = await tokensOf(
      await vendConcurrently(
        google,
        Array.from({ length: CALLERS }, () => ({})),
      ),
    );

    expect(held.arrived()).toBe(CALLERS);
    expect(held.attempts()).toBe(1);
    expect(await mockProvider.refreshGrants(google.flow)).toHaveLength(1);
    const token = theOneToken(tokens);
    expect(token).not.toBe(old);
    expect((await mockProvider.flowState(google.flow)).access_tokens.at(-1)?.token).toBe(token);
    expect(await storedPlaintext(google, "access_token")).toBe(token);
  });

  it("make exactly one upstream refresh when some of the callers ask for force_refresh", async () => {
    const google = await connectMock("google", "flight-forced");
    await expireStoredToken(google.connectionId);
    const held = await holdRefreshUntilCallersArrive(google, CALLERS);
    const bodies: VendBody[] = Array.from({ length: CALLERS }, (_, index) => (index % 3 === 0 ? { force_refresh: true } : {}));

    const tokens = await tokensOf(await vendConcurrently(google, bodies));

    expect(held.attempts()).toBe(1);
    expect(await mockProvider.refreshGrants(google.flow)).toHaveLength(1);
    expect(theOneToken(tokens)).toBe(await storedPlaintext(google, "access_token"));
  });

  it("of a still-valid token, all with force_refresh, make exactly one upstream refresh", async () => {
    const google = await connectMock("google", "flight-all-forced");
    const old = await storedPlaintext(google, "access_token");
    const held = await holdRefreshUntilCallersArrive(google, CALLERS);

    const tokens = await tokensOf(
      await vendConcurrently(
        google,
        Array.from({ length: CALLERS }, () => ({ force_refresh: true })),
      ),
    );

    expect(held.attempts()).toBe(1);
    expect(theOneToken(tokens)).not.toBe(old);
  });

  it("at a rotating provider (local oidc-provider) make one refresh_token grant and never reuse a rotated token", async () => {
    const oidc = await connectLocalOidc("flight-oidc");
    await expireStoredToken(oidc.connectionId);
    const held = await holdRefreshUntilCallersArrive(oidc, CALLERS);
    const bodies: VendBody[] = Array.from({ length: CALLERS }, (_, index) => (index % 4 === 0 ? { force_refresh: true } : {}));

    const tokens = await tokensOf(await vendConcurrently(oidc, bodies));

    expect(held.attempts()).toBe(1);
    const events = await localOidc.events(oidc.flow);
    expect(events.counts).toMatchObject({ refresh_token: 1, token_error: 0, grant_revoked: 0 });
    expect(theOneToken(tokens)).toBe(await storedPlaintext(oidc, "access_token"));
    expect((await storedRow(oidc.connectionId)).status).toBe("active");
  });

  it("need no refresh once the shared one has finished: a later vend gets the new token from the hot path", async () => {
    const google = await connectMock("google", "flight-after");
    await expireStoredToken(google.connectionId);
    const first = await vendOk(google);
    const later = await vendOk(google);
    expect(later.access_token).toBe(first.access_token);
    expect(await mockProvider.refreshGrants(google.flow)).toHaveLength(1);
  });
});

describe("callers reporting a rejected token", () => {
  it("cause one refresh when many report the stored token at once, and all get the same new token", async () => {
    const google = await connectMock("google", "flight-rejected");
    const rejected = await storedPlaintext(google, "access_token");
    const held = await holdRefreshUntilCallersArrive(google, CALLERS);

    const tokens = await tokensOf(
      await vendConcurrently(
        google,
        Array.from({ length: CALLERS }, () => ({ rejected_token: rejected })),
      ),
    );

    expect(held.attempts()).toBe(1);
    expect(await mockProvider.refreshGrants(google.flow)).toHaveLength(1);
    const token = theOneToken(tokens);
    expect(token).not.toBe(rejected);
    expect(await storedPlaintext(google, "access_token")).toBe(token);
  });

  it("cause one refresh when they report it one after another", async () => {
    const google = await connectMock("google", "flight-rejected-serial");
    const rejected = await storedPlaintext(google, "access_token");
    const first = await vendOk(google, { rejected_token: rejected });
    const second = await vendOk(google, { rejected_token: rejected });
    expect(second.access_token).toBe(first.access_token);
    expect(await mockProvider.refreshGrants(google.flow)).toHaveLength(1);
  });

  it("cause no refresh when the reported token is not the stored one, and get the stored token", async () => {
    const google = await connectMock("google", "flight-stale");
    const stored = await storedPlaintext(google, "access_token");
    const token = await vendOk(google, { rejected_token: "ya29.some-token-this-connection-no-longer-holds" });
    expect(token.access_token).toBe(stored);
    expect(await mockProvider.refreshGrants(google.flow)).toEqual([]);
  });

  it("cause no refresh when the reported token was replaced by an earlier refresh", async () => {
    const google = await connectMock("google", "flight-stale-replaced");
    const replaced = await storedPlaintext(google, "access_token");
    const current = (await vendOk(google, { force_refresh: true })).access_token;
    const token = await vendOk(google, { rejected_token: replaced });
    expect(token.access_token).toBe(current);
    expect(await mockProvider.refreshGrants(google.flow)).toHaveLength(1);
  });
});

describe("a forced refresh that reaches the Durable Object late", () => {
  it("is answered by a refresh that finished after it was asked, without another upstream call", async () => {
    const google = await connectMock("google", "flight-force-late");
    const askedAt = Date.now();
    const refreshed = await vendOk(google, { force_refresh: true });

    // A caller that asked at `askedAt` but was queued behind that refresh (a caller of the RPC the route makes).
    const result = await env.USER_VAULT.getByName(google.userId).refresh({
      userId: google.userId,
      connectionId: google.connectionId,
      trigger: "force",
      minValiditySeconds: 300,
      requestedAt: askedAt,
    });
    expect(result).toMatchObject({ kind: "token", refreshed: false, accessToken: refreshed.access_token });
    expect(await mockProvider.refreshGrants(google.flow)).toHaveLength(1);
  });

  it("asked after the last refresh finished makes a new one", async () => {
    const google = await connectMock("google", "flight-force-again");
    const refreshed = await vendOk(google, { force_refresh: true });
    const lastRefreshedAt = (await storedRow(google.connectionId)).last_refreshed_at!;

    const result = await env.USER_VAULT.getByName(google.userId).refresh({
      userId: google.userId,
      connectionId: google.connectionId,
      trigger: "force",
      minValiditySeconds: 300,
      requestedAt: lastRefreshedAt + 1,
    });
    expect(result).toMatchObject({ kind: "token", refreshed: true });
    expect(result.kind === "token" && result.accessToken).not.toBe(refreshed.access_token);
    expect(await mockProvider.refreshGrants(google.flow)).toHaveLength(2);
  });
});

describe("a caller who joins a call to the Durable Object that did not refresh", () => {
  /**
   * A plain vend of the (still fresh) token waits in the user's Durable Object behind a re-encryption whose write is
   * held until `body`, vended through the Worker, has joined it. Returns the plain vend's result and `body`'s response.
   */
  async function joinAPlainVend(google: Connected, body: VendBody): Promise<{ plain: RefreshResult; joined: Response }> {
    await moveRowToKeys(google.connectionId, K1);
    const vault = env.USER_VAULT.getByName(google.userId);
    const bothArrived = Promise.withResolvers<void>();
    const calls = await watchVaultRefreshes(google.userId, (count) => {
      if (count === 2) bothArrived.resolve();
    });
    const write = await holdNextConnectionWrite(google.userId, bothArrived.promise);

    const reEncrypting = vault.reEncrypt(google.userId, google.connectionId);
    await vi.waitFor(() => expect(write.held()).toBe(true));
    const plain = vault.refresh({
      userId: google.userId,
      connectionId: google.connectionId,
      trigger: "vend",
      minValiditySeconds: 300,
      requestedAt: Date.now(),
    });
    await vi.waitFor(() => expect(calls.calls()).toBe(1));
    const joined = service.vend(google.userId, google.connectionId, body);

    const [, plainResult, joinedResponse] = await Promise.all([reEncrypting, plain, joined]);
    return { plain: plainResult, joined: joinedResponse };
  }

  it("reporting the stored token rejected gets a new token, never the one it reported", async () => {
    const google = await connectMock("google", "flight-join-rejected");
    const stored = await storedPlaintext(google, "access_token");

    const { plain, joined } = await joinAPlainVend(google, { rejected_token: stored });

    expect(plain).toMatchObject({ kind: "token", refreshed: false, accessToken: stored });
    expect(joined.status).toBe(200);
    const token = (await joined.json()) as VendedToken;
    expect(token.access_token).not.toBe(stored);
    expect(await mockProvider.refreshGrants(google.flow)).toHaveLength(1);
    expect(await storedPlaintext(google, "access_token")).toBe(token.access_token);
  });

  it("asking for force_refresh gets a token refreshed after it asked", async () => {
    const google = await connectMock("google", "flight-join-forced");
    const stored = await storedPlaintext(google, "access_token");

    const { joined } = await joinAPlainVend(google, { force_refresh: true });

    expect(joined.status).toBe(200);
    expect(((await joined.json()) as VendedToken).access_token).not.toBe(stored);
    expect(await mockProvider.refreshGrants(google.flow)).toHaveLength(1);
  });
});
