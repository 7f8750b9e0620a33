/**
 * Forged states, cookies and codes on the browser endpoints (start and callback). Without the state the service
 * issued *and* the browser's cookie, the answer is a 400 invalid-state problem: no redirect, no cookie, nothing
 * created, nothing echoed; and an attacked flow still completes for the browser it belongs to.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Browser, rewriteQuery } from "../support/browser";
import { authorizeInBrowser } from "../support/connect-flow";
import { service } from "../support/toolkit";
import { newUserId } from "../support/users";
import {
  type Answer,
  expectInvariants,
  nastyString,
  PROPERTY_TIMEOUT_MS,
  queryString,
  RUNS,
  secretMarker,
  snapshotState,
  stateChanges,
} from "./invariants";

const PROVIDERS = ["google", "youtube", "microsoft", "notion", "local-oidc"];

function expectInvalidStateWithoutRedirect(answer: Answer): void {
  expect(answer.status).toBe(400);
  expect(JSON.parse(answer.text)).toMatchObject({ type: "urn:connection-manager:problem:invalid-state" });
  expect(answer.headers.get("Location")).toBeNull();
  // A refused start binds no browser; a refused callback may only delete a flow cookie, never set one.
  for (const cookie of answer.headers.getSetCookie()) expect(cookie).toMatch(/Max-Age=0|Expires=Thu, 01 Jan 1970/);
}

/** A state value the service never issued: random, the right shape, too long, or nasty. */
const forgedState = (marker: string) =>
  fc.oneof(
    fc.constant(marker),
    fc.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    nastyString,
    fc.constantFrom("", " ", "null", "%00", "a".repeat(512)),
  );

describe("forged browser requests", () => {
  it(
    "a state the service never issued is refused on start and callback, whatever cookie and code come with it",
    async () => {
      const cases = secretMarker.chain((marker) =>
        fc.record({
          marker: fc.constant(marker),
          endpoint: fc.constantFrom("start", "callback"),
          provider: fc.constantFrom(...PROVIDERS),
          state: fc.option(forgedState(marker), { nil: undefined }),
          extra: fc.array(
            fc.tuple(
              fc.constantFrom("code", "error", "error_description", "iss", "scope", "state"),
              fc.oneof(fc.constant(marker), nastyString, fc.constantFrom("access_denied", "x".repeat(5000))),
            ),
            { maxLength: 4 },
          ),
          cookie: fc.option(
            fc.oneof(
              fc.stringMatching(/^[A-Za-z0-9_-]{12}$/).map((flow) => `cm_flow_${flow}=${marker}`),
              fc.constantFrom(
                `cm_flow_=${marker}`,
                `cm_flow_x=${marker}; cm_flow_y=${marker}`,
                `${marker}`,
                `=${marker}`,
                `cm_flow_x="${marker}`,
              ),
            ),
            { nil: undefined },
          ),
          ip: fc.option(fc.constantFrom("203.0.113.7", "2001:db8::1", "not-an-ip", "1.1.1.1, 2.2.2.2"), { nil: undefined }),
        }),
      );
      await fc.assert(
        fc.asyncProperty(cases, async ({ marker, endpoint, provider, state, extra, cookie, ip }) => {
          const params: [string, string][] = [...(state === undefined ? [] : [["state", state] as [string, string]]), ...extra];
          const answer = await expectInvariants({
            method: "GET",
            path: `/v1/oauth/${provider}/${endpoint}${queryString(params)}`,
            headers: { ...(cookie ? { Cookie: cookie } : {}), ...(ip ? { "CF-Connecting-IP": ip } : {}) },
            secrets: [marker],
          });
          // Over-long parameters are refused by validation before the state is looked at; the rate limit may answer first.
          if (answer.status === 429) return;
          expect(answer.status).toBe(400);
          expect(answer.headers.get("Location")).toBeNull();
          if (endpoint === "start") expect(answer.headers.getSetCookie()).toEqual([]);
        }),
        { numRuns: RUNS.normal },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    "an issued flow attacked with forged cookies, altered states, other providers and forged codes is refused each time and still completes for its own browser",
    async () => {
      type Attack = (callback: URL, cookie: string, marker: string) => { path: string; cookie?: string };
      const path = (url: string | URL) => {
        const parsed = new URL(url);
        return `${parsed.pathname}${parsed.search}`;
      };
      const attacks: Record<string, Attack> = {
        "no cookie": (callback) => ({ path: path(callback) }),
        "forged cookie value": (callback, cookie, marker) => ({ path: path(callback), cookie: `${cookie.split("=")[0]}=${marker}` }),
        "cookie of another name": (callback, cookie) => ({ path: path(callback), cookie: `cm_flow_other=${cookie.split("=")[1]}` }),
        "cookie value with one character changed": (callback, cookie) => {
          const [name, value = ""] = cookie.split("=");
          return { path: path(callback), cookie: `${name}=${value.slice(0, -1)}${value.endsWith("A") ? "B" : "A"}` };
        },
        "altered state": (callback, cookie) => {
          const state = callback.searchParams.get("state") ?? "";
          return { path: path(rewriteQuery(callback, { state: `${state.slice(0, -1)}${state.endsWith("A") ? "B" : "A"}` })), cookie };
        },
        "state and cookie on another provider's callback": (callback, cookie) => ({
          path: path(callback).replace("/google/", "/microsoft/"),
          cookie,
        }),
        "forged code without the cookie": (callback, _cookie, marker) => ({ path: path(rewriteQuery(callback, { code: marker })) }),
        "provider error without the cookie": (callback) => ({ path: path(rewriteQuery(callback, { code: null, error: "access_denied" })) }),
      };
      const cases = fc.record({
        marker: secretMarker,
        attacks: fc.uniqueArray(fc.constantFrom(...Object.keys(attacks)), { minLength: 1, maxLength: 4 }),
        returnTo: fc.boolean(),
      });
      await fc.assert(
        fc.asyncProperty(cases, async ({ marker, attacks: chosen, returnTo }) => {
          const userId = newUserId("fuzz-flow");
          const { authorization_url: startUrl } = await service.beginConnect(
            userId,
            "google",
            returnTo ? { return_to: "https://app.example.com/connected" } : {},
          );
          const browser = new Browser();
          const { callbackUrl } = await authorizeInBrowser(browser, startUrl);
          const cookie = browser.cookies.header(new URL(callbackUrl))!;
          expect(cookie).toMatch(/^cm_flow_[^=]+=.+/);
          const code = callbackUrl.searchParams.get("code") ?? "";
          for (const name of chosen) {
            const attack = attacks[name]!(callbackUrl, cookie, marker);
            const answer = await expectInvariants({
              method: "GET",
              path: attack.path,
              headers: attack.cookie ? { Cookie: attack.cookie } : {},
              secrets: [marker, code, cookie.split("=")[1] ?? ""],
            });
            expectInvalidStateWithoutRedirect(answer);
          }
          // The attacks consumed nothing: the real browser finishes its own flow.
          const before = await snapshotState();
          const completed = await browser.request(callbackUrl);
          expect(completed.status).toBe(returnTo ? 302 : 200);
          if (returnTo)
            expect(completed.headers.get("Location")).toMatch(
              /^https:\/\/app\.example\.com\/connected\?status=connected&connection_id=conn_/,
            );
          await completed.body?.cancel();
          expect(stateChanges(before, await snapshotState()).join("; ")).toMatch(/connections: \d+ -> \d+/);
          // And the same callback, replayed with the cookie it had, creates nothing more.
          const replay = await expectInvariants({
            method: "GET",
            path: path(callbackUrl),
            headers: { Cookie: cookie },
            secrets: [marker, code],
          });
          expectInvalidStateWithoutRedirect(replay);
        }),
        { numRuns: 12 },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});
