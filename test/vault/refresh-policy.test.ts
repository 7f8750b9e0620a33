/** The pure decisions of a refresh (src/vault/refresh-policy.ts), table by table, without I/O. */
import { describe, expect, it } from "vitest";
import type { TokenFailure } from "../../src/providers/provider";
import {
  classifyFailure,
  classifyRefreshFailure,
  cooldownMs,
  decideRefresh,
  failureLabel,
  isFreshEnough,
  reportsFailureStreak,
  tokenAnswers,
  TRANSIENT_STREAK_REPORTED_AFTER_MS,
  type RefreshAsk,
  type RefreshFacts,
  type RefreshFailure,
  type StoredTokens,
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
const SECOND = 1000;
const MINUTE = 60 * SECOND;

describe("whether a stored token is fresh enough", () => {
  it.each([
    ["an hour left, 300 s asked", true, NOW + 60 * MINUTE, null, 300],
    ["exactly 300 s left, 300 s asked", true, NOW + 300 * SECOND, null, 300],
    ["299 s left of a token of unknown life, 300 s asked", false, NOW + 299 * SECOND, null, 300],
    ["299 s left of a 3,599 s token, 300 s asked", false, NOW + 299 * SECOND, NOW - 3300 * SECOND, 300],
    ["an unknown expiry", true, null, null, 1800],
    ["61 s left of a 120 s token, 300 s asked", true, NOW + 61 * SECOND, NOW - 59 * SECOND, 300],
    ["exactly half of a 120 s token left", true, NOW + 60 * SECOND, NOW - 60 * SECOND, 300],
    ["59 s left of a 120 s token", false, NOW + 59 * SECOND, NOW - 61 * SECOND, 300],
    ["2 s left of a 5 s token, 0 s asked", true, NOW + 2 * SECOND, NOW - 3 * SECOND, 0],
    ["an expired 120 s token", false, NOW - SECOND, NOW - 121 * SECOND, 300],
    ["150 s left of a 300 s token (Keycloak's default life), 1,800 s asked", true, NOW + 150 * SECOND, NOW - 150 * SECOND, 1800],
    // A life equal to what is asked could never meet it: 5-minute tokens with the default 300 s would refresh on every vend.
    ["299 s left of a 300 s token, 300 s asked", true, NOW + 299 * SECOND, NOW - SECOND, 300],
    ["149 s left of a 300 s token, 300 s asked", false, NOW + 149 * SECOND, NOW - 151 * SECOND, 300],
  ] as const)("%s: %s", (_case, expected, expiresAt, issuedAt, minValiditySeconds) => {
    expect(isFreshEnough({ expiresAt, issuedAt }, NOW, minValiditySeconds)).toBe(expected);
  });
});

/** An active connection whose token, issued 5 minutes ago, expires in an hour, refreshable at a configured provider. */
const TOKENS: StoredTokens = {
  accessToken: "stored-access-token",
  expiresAt: NOW + 60 * MINUTE,
  issuedAt: NOW - 5 * MINUTE,
  refreshToken: "refresh-token",
};

function facts(overrides: Partial<RefreshFacts<string>> = {}, tokens: Partial<StoredTokens> = {}): RefreshFacts<string> {
  return {
    status: "active",
    tokens: { ...TOKENS, ...tokens },
    lastRefreshedAt: null,
    refreshBlockedUntil: null,
    cooldownClass: null,
    provider: "provider",
    ...overrides,
  };
}

function ask(overrides: Partial<RefreshAsk> = {}): RefreshAsk {
  return { trigger: "vend", minValiditySeconds: 300, requestedAt: NOW, ...overrides };
}

const REFRESH = { kind: "refresh", provider: "provider" };
const USE_STORED = { kind: "use_stored" };

describe("deciding a refresh", () => {
  it.each([
    ["a vend of a token valid for longer than asked", facts(), ask(), USE_STORED],
    ["a vend of a token valid for less than asked", facts({}, { expiresAt: NOW + 4 * MINUTE }), ask(), REFRESH],
    ["a vend of an expired token", facts({}, { expiresAt: NOW - MINUTE }), ask(), REFRESH],
    ["a vend of a token without expiry", facts({}, { expiresAt: null }), ask(), USE_STORED],
    [
      "a vend of a 120 s token with more than half its life left",
      facts({}, { expiresAt: NOW + 90 * SECOND, issuedAt: NOW - 30 * SECOND }),
      ask(),
      USE_STORED,
    ],
    [
      "a vend of a 120 s token with less than half its life left",
      facts({}, { expiresAt: NOW + 50 * SECOND, issuedAt: NOW - 70 * SECOND }),
      ask(),
      REFRESH,
    ],
    [
      "a cron visit of a token without expiry",
      facts({}, { expiresAt: null }),
      ask({ trigger: "cron", minValiditySeconds: 600 }),
      USE_STORED,
    ],
    [
      "a cron visit of a token expiring inside the window",
      facts({}, { expiresAt: NOW + 5 * MINUTE, issuedAt: NOW - 55 * MINUTE }),
      ask({ trigger: "cron", minValiditySeconds: 600 }),
      REFRESH,
    ],
    ["a forced refresh", facts(), ask({ trigger: "force" }), REFRESH],
    [
      "a forced refresh answered by a refresh that finished after it was asked",
      facts({ lastRefreshedAt: NOW + 1 }),
      ask({ trigger: "force" }),
      USE_STORED,
    ],
    ["a forced refresh asked after the last refresh", facts({ lastRefreshedAt: NOW - 1 }), ask({ trigger: "force" }), REFRESH],
    ["a report that the stored token was rejected", facts(), ask({ trigger: "rejected", rejectedToken: "stored-access-token" }), REFRESH],
    ["a report of a token already replaced", facts(), ask({ trigger: "rejected", rejectedToken: "older-token" }), USE_STORED],
    [
      "a report of a token replaced by one that has expired too",
      facts({}, { expiresAt: NOW - 1 }),
      ask({ trigger: "rejected", rejectedToken: "older-token" }),
      REFRESH,
    ],
    ["a connection that needs re-authorization", facts({ status: "needs_reauth" }), ask({ trigger: "force" }), { kind: "needs_reauth" }],
    [
      "a connection that needs re-authorization and that no key decrypts",
      facts({ status: "needs_reauth", tokens: null }),
      ask(),
      { kind: "needs_reauth" },
    ],
    [
      "a connection that no key in the ring decrypts",
      facts({ tokens: null }),
      ask(),
      { kind: "mark_needs_reauth", reason: "key_unavailable" },
    ],
    [
      "a connection cooling down after a transient failure",
      facts({ refreshBlockedUntil: NOW + 90_500, cooldownClass: "transient" }, { expiresAt: NOW - 1 }),
      ask(),
      { kind: "cooling_down", failureClass: "transient", retryAfterSeconds: 91 },
    ],
    [
      "a connection cooling down after an operator error",
      facts({ refreshBlockedUntil: NOW + MINUTE, cooldownClass: "operator" }),
      ask({ trigger: "force" }),
      { kind: "cooling_down", failureClass: "operator", retryAfterSeconds: 60 },
    ],
    [
      "a connection cooling down since before failure classes were recorded",
      facts({ refreshBlockedUntil: NOW + MINUTE }),
      ask({ trigger: "force" }),
      { kind: "cooling_down", failureClass: "transient" },
    ],
    [
      "a connection whose cooldown has passed",
      facts({ refreshBlockedUntil: NOW, cooldownClass: "operator" }, { expiresAt: NOW - 1 }),
      ask(),
      REFRESH,
    ],
    ["a connection cooling down whose stored token still answers", facts({ refreshBlockedUntil: NOW + MINUTE }), ask(), USE_STORED],
    ["a provider that is not configured", facts({ provider: null }), ask({ trigger: "force" }), { kind: "provider_not_configured" }],
    [
      "a connection without a refresh token",
      facts({}, { refreshToken: null }),
      ask({ trigger: "force" }),
      { kind: "mark_needs_reauth", reason: "no_refresh_token" },
    ],
  ] as const)("%s", (_case, rowFacts, request, expected) => {
    expect(decideRefresh(rowFacts, request, NOW)).toMatchObject(expected);
  });

  it("hands the stored tokens and the provider on to a refresh", () => {
    expect(decideRefresh(facts(), ask({ trigger: "force" }), NOW)).toEqual({ kind: "refresh", tokens: TOKENS, provider: "provider" });
  });
});

describe("whether a token from a call another caller started answers this caller too", () => {
  const token = { accessToken: "shared-token", expiresAt: NOW + 60 * MINUTE, issuedAt: NOW - 5 * MINUTE };
  const longLivedNearExpiry = { ...token, expiresAt: NOW + 10 * MINUTE, issuedAt: NOW - 50 * MINUTE };

  it.each([
    ["a report of that very token as rejected", false, ask({ trigger: "rejected", rejectedToken: "shared-token" }), token, true],
    ["a report of another token as rejected", true, ask({ trigger: "rejected", rejectedToken: "older-token" }), token, false],
    ["a forced refresh, from a call that did not refresh", false, ask({ trigger: "force" }), token, false],
    ["a forced refresh, from a call that refreshed", true, ask({ trigger: "force" }), token, true],
    ["a vend asking for more life than the token has", false, ask({ minValiditySeconds: 1800 }), longLivedNearExpiry, false],
    ["a vend the token is fresh enough for", true, ask(), token, false],
  ] as const)("%s: %s", (_case, expected, request, shared, refreshed) => {
    expect(tokenAnswers(request, shared, refreshed, NOW)).toBe(expected);
  });
});

describe("classifying a failed refresh", () => {
  const fresh = { failures: 0, lastFailure: null };
  const endpoint = (input: TokenFailure): RefreshFailure => ({ kind: "token_endpoint", failure: input });

  it.each([
    ["invalid_grant", endpoint(failure("oauth_error", 400, "invalid_grant")), fresh, { failureClass: "reauth", reason: "invalid_grant" }],
    [
      "invalid_grant after a timeout (a lost response)",
      endpoint(failure("oauth_error", 400, "invalid_grant")),
      { failures: 1, lastFailure: "timeout" },
      { failureClass: "reauth", reason: "invalid_grant_after_lost_response" },
    ],
    [
      "invalid_grant after a dropped connection (a lost response)",
      endpoint(failure("oauth_error", 400, "invalid_grant")),
      { failures: 1, lastFailure: "network" },
      { failureClass: "reauth", reason: "invalid_grant_after_lost_response" },
    ],
    [
      "invalid_grant after a 503 (the provider never answered with tokens)",
      endpoint(failure("oauth_error", 400, "invalid_grant")),
      { failures: 1, lastFailure: "http_503" },
      { failureClass: "reauth", reason: "invalid_grant" },
    ],
    ["a first 503", endpoint(failure("http_error", 503)), fresh, { failureClass: "transient", reason: "http_503", cooldownMs: 30_000 }],
    [
      "a third consecutive timeout",
      endpoint(failure("timeout")),
      { failures: 2, lastFailure: "timeout" },
      { failureClass: "transient", reason: "timeout", cooldownMs: 120_000 },
    ],
    [
      "a 429 with Retry-After 900",
      endpoint(failure("http_error", 429, null, 900)),
      fresh,
      { failureClass: "transient", reason: "rate_limited", cooldownMs: 900_000 },
    ],
    [
      "invalid_client",
      endpoint(failure("oauth_error", 401, "invalid_client")),
      fresh,
      { failureClass: "operator", reason: "invalid_client", cooldownMs: 30_000 },
    ],
    [
      "a second invalid_client, with Retry-After",
      endpoint(failure("oauth_error", 401, "invalid_client", 300)),
      { failures: 1, lastFailure: "invalid_client" },
      { failureClass: "operator", reason: "invalid_client", cooldownMs: 300_000 },
    ],
    [
      "a provider that threw",
      { kind: "provider_threw" },
      fresh,
      { failureClass: "operator", reason: "provider_error", cooldownMs: 30_000 },
    ],
    [
      "a provider no longer configured, for the fifth time",
      { kind: "provider_not_configured" },
      { failures: 4, lastFailure: "provider_not_configured" },
      { failureClass: "operator", reason: "provider_not_configured", cooldownMs: 480_000 },
    ],
  ] as const)("%s", (_case, input, history, expected) => {
    expect(classifyRefreshFailure(input, history)).toEqual(expected);
  });
});

describe("whether a failed refresh reports its failure streak (connection.refresh_failed)", () => {
  const now = 10 * TRANSIENT_STREAK_REPORTED_AFTER_MS;

  it("reports an operator error at once, on the streak's first failure", () => {
    expect(reportsFailureStreak("operator", { failingSince: now, reportedAt: null }, now)).toBe(true);
  });

  it("reports transient failures only once the streak has lasted an hour", () => {
    const justUnder = { failingSince: now - TRANSIENT_STREAK_REPORTED_AFTER_MS + 1, reportedAt: null };
    const anHour = { failingSince: now - TRANSIENT_STREAK_REPORTED_AFTER_MS, reportedAt: null };
    expect(reportsFailureStreak("transient", justUnder, now)).toBe(false);
    expect(reportsFailureStreak("transient", anHour, now)).toBe(true);
  });

  it("reports a streak once, whatever fails after", () => {
    const reported = { failingSince: now - 2 * TRANSIENT_STREAK_REPORTED_AFTER_MS, reportedAt: now - 1 };
    expect(reportsFailureStreak("operator", reported, now)).toBe(false);
    expect(reportsFailureStreak("transient", reported, now)).toBe(false);
  });
});
