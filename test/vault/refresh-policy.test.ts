/** The pure decisions of a refresh (src/vault/refresh-policy.ts), table by table, without I/O. */
import { describe, expect, it } from "vitest";
import type { TokenFailure } from "../../src/providers/provider";
import {
  classifyFailure,
  classifyRefreshFailure,
  cooldownMs,
  decideRefresh,
  failureLabel,
  type RefreshAsk,
  type RefreshFacts,
} from "../../src/vault/refresh-policy";

function failure(
  kind: TokenFailure["kind"],
  status: number | null = null,
  error: string | null = null,
  retryAfterSeconds: number | null = null,
): TokenFailure {
  return { kind, status, error, description: null, retryAfterSeconds } as TokenFailure;
}

describe("classifying a token endpoint failure", () => {
  it.each([
    [failure("timeout"), "transient"],
    [failure("network"), "transient"],
    [failure("http_error", 503), "transient"],
    [failure("malformed_response", 200), "transient"],
    [failure("oauth_error", 400, "invalid_grant"), "reauth"],
    [failure("oauth_error", 400, "consent_required"), "reauth"],
    [failure("oauth_error", 400, "temporarily_unavailable"), "transient"],
    [failure("oauth_error", 429, "invalid_request"), "transient"],
    [failure("oauth_error", 502, "invalid_request"), "transient"],
    [failure("oauth_error", 401, "invalid_client"), "operator"],
    [failure("oauth_error", null, null), "operator"],
    [failure("provider_misconfigured"), "operator"],
  ] as const)("classifies %o as %s", (input, expected) => {
    expect(classifyFailure(input)).toBe(expected);
  });

  it.each([
    [failure("oauth_error", 400, "invalid_grant"), "invalid_grant"],
    [failure("oauth_error", 400, null), "oauth_error"],
    [failure("http_error", 429), "rate_limited"],
    [failure("http_error", 503), "http_503"],
    [failure("http_error", null), "http_error"],
    [failure("timeout"), "timeout"],
    [failure("malformed_response", 200), "malformed_response"],
    [failure("provider_misconfigured"), "provider_misconfigured"],
  ] as const)("labels %o as %s", (input, expected) => {
    expect(failureLabel(input)).toBe(expected);
  });

  it.each([
    [0, null, 30_000],
    [1, null, 30_000],
    [2, null, 60_000],
    [4, null, 240_000],
    [20, null, 3_600_000],
    [1, 120, 120_000],
    [3, 10, 120_000],
    [20, 7_200, 7_200_000],
  ])("cools down after failure %i with Retry-After %s for %i ms", (failures, retryAfter, expected) => {
    expect(cooldownMs(failures, retryAfter)).toBe(expected);
  });
});

const NOW = 1_700_000_000_000;
const MINUTE = 60_000;

/** An active connection whose token expires in an hour, refreshable at a configured provider. */
function facts(overrides: Partial<RefreshFacts<string, string>> = {}): RefreshFacts<string, string> {
  return {
    status: "active",
    accessToken: "stored-access-token",
    expiresAt: NOW + 60 * MINUTE,
    lastRefreshedAt: null,
    refreshBlockedUntil: null,
    provider: "provider",
    refreshToken: "refresh-token",
    ...overrides,
  };
}

function ask(overrides: Partial<RefreshAsk> = {}): RefreshAsk {
  return { trigger: "vend", minValiditySeconds: 300, requestedAt: NOW, ...overrides };
}

const REFRESH = { kind: "refresh", provider: "provider", refreshToken: "refresh-token" };

describe("deciding a refresh", () => {
  it.each([
    ["a vend of a token valid for longer than asked", facts(), ask(), { kind: "use_stored" }],
    ["a vend of a token valid for less than asked", facts({ expiresAt: NOW + 4 * MINUTE }), ask(), REFRESH],
    ["a vend of an expired token", facts({ expiresAt: NOW - MINUTE }), ask(), REFRESH],
    ["a vend of a token without expiry", facts({ expiresAt: null }), ask(), { kind: "use_stored" }],
    [
      "a cron visit of a token without expiry",
      facts({ expiresAt: null }),
      ask({ trigger: "cron", minValiditySeconds: 600 }),
      { kind: "use_stored" },
    ],
    [
      "a cron visit of a token expiring inside the window",
      facts({ expiresAt: NOW + 5 * MINUTE }),
      ask({ trigger: "cron", minValiditySeconds: 600 }),
      REFRESH,
    ],
    ["a forced refresh", facts(), ask({ trigger: "force" }), REFRESH],
    [
      "a forced refresh answered by a refresh that finished after it was asked",
      facts({ lastRefreshedAt: NOW + 1 }),
      ask({ trigger: "force" }),
      { kind: "use_stored" },
    ],
    ["a forced refresh asked after the last refresh", facts({ lastRefreshedAt: NOW - 1 }), ask({ trigger: "force" }), REFRESH],
    ["a report that the stored token was rejected", facts(), ask({ trigger: "rejected", rejectedToken: "stored-access-token" }), REFRESH],
    ["a report of a token already replaced", facts(), ask({ trigger: "rejected", rejectedToken: "older-token" }), { kind: "use_stored" }],
    [
      "a report of a token replaced by one that has expired too",
      facts({ expiresAt: NOW - 1 }),
      ask({ trigger: "rejected", rejectedToken: "older-token" }),
      REFRESH,
    ],
    ["a connection that needs re-authorization", facts({ status: "needs_reauth" }), ask({ trigger: "force" }), { kind: "needs_reauth" }],
    [
      "a connection cooling down",
      facts({ expiresAt: NOW - 1, refreshBlockedUntil: NOW + 90_500 }),
      ask(),
      { kind: "cooling_down", retryAfterSeconds: 91 },
    ],
    ["a connection whose cooldown has passed", facts({ expiresAt: NOW - 1, refreshBlockedUntil: NOW }), ask(), REFRESH],
    [
      "a connection cooling down whose stored token still answers",
      facts({ refreshBlockedUntil: NOW + MINUTE }),
      ask(),
      { kind: "use_stored" },
    ],
    ["a provider that is not configured", facts({ provider: null }), ask({ trigger: "force" }), { kind: "provider_not_configured" }],
    [
      "a connection without a refresh token",
      facts({ refreshToken: null }),
      ask({ trigger: "force" }),
      { kind: "mark_needs_reauth", reason: "no_refresh_token" },
    ],
  ] as const)("%s", (_case, rowFacts, request, expected) => {
    expect(decideRefresh(rowFacts, request, NOW)).toEqual(expected);
  });
});

describe("classifying a failed refresh", () => {
  const fresh = { failures: 0, lastFailure: null };

  it.each([
    [
      "invalid_grant",
      failure("oauth_error", 400, "invalid_grant"),
      fresh,
      { failureClass: "reauth", reason: "invalid_grant", cooldownMs: null },
    ],
    [
      "invalid_grant after a timeout (a lost response)",
      failure("oauth_error", 400, "invalid_grant"),
      { failures: 1, lastFailure: "timeout" },
      { failureClass: "reauth", reason: "invalid_grant_after_lost_response", cooldownMs: null },
    ],
    [
      "invalid_grant after a dropped connection (a lost response)",
      failure("oauth_error", 400, "invalid_grant"),
      { failures: 1, lastFailure: "network" },
      { failureClass: "reauth", reason: "invalid_grant_after_lost_response", cooldownMs: null },
    ],
    [
      "invalid_grant after a 503 (the provider never answered with tokens)",
      failure("oauth_error", 400, "invalid_grant"),
      { failures: 1, lastFailure: "http_503" },
      { failureClass: "reauth", reason: "invalid_grant", cooldownMs: null },
    ],
    ["a first 503", failure("http_error", 503), fresh, { failureClass: "transient", reason: "http_503", cooldownMs: 30_000 }],
    [
      "a third consecutive timeout",
      failure("timeout"),
      { failures: 2, lastFailure: "timeout" },
      { failureClass: "transient", reason: "timeout", cooldownMs: 120_000 },
    ],
    [
      "a 429 with Retry-After 900",
      failure("http_error", 429, null, 900),
      fresh,
      { failureClass: "transient", reason: "rate_limited", cooldownMs: 900_000 },
    ],
    [
      "invalid_client",
      failure("oauth_error", 401, "invalid_client"),
      fresh,
      { failureClass: "operator", reason: "invalid_client", cooldownMs: 30_000 },
    ],
  ] as const)("%s", (_case, input, history, expected) => {
    expect(classifyRefreshFailure(input, history)).toEqual(expected);
  });
});
