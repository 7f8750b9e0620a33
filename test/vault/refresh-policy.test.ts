import { describe, expect, it } from "vitest";
import type { TokenFailure } from "../../src/providers/provider";
import { classifyFailure, cooldownMs, failureLabel } from "../../src/vault/refresh-policy";

function failure(kind: TokenFailure["kind"], status: number | null = null, error: string | null = null): TokenFailure {
  return { kind, status, error, description: null, retryAfterSeconds: null } as TokenFailure;
}

describe("refresh policy", () => {
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
