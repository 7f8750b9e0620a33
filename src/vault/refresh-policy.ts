/**
 * Pure refresh decisions: whether a stored token is good enough, how a failed refresh is classified, and how long
 * a connection cools down. No I/O and no clock: `now` is passed in.
 */
import type { TokenFailure } from "../providers/provider";

/** Seconds of remaining validity a vend asks for unless it says otherwise (docs/http-api.md, "Vending outcomes"). */
export const DEFAULT_MIN_VALIDITY_SECONDS = 300;
const BACKOFF_BASE_MS = 30_000;
const BACKOFF_MAX_MS = 60 * 60_000;

/** True when a token expiring at `expiresAt` stays valid for `minValiditySeconds`; an unknown expiry (Notion) counts as valid. */
export function isFreshEnough(expiresAt: number | null, now: number, minValiditySeconds: number): boolean {
  return expiresAt === null || expiresAt - now >= minValiditySeconds * 1000;
}

/** True when a token has not expired yet (an unknown expiry counts as unexpired). */
export function isUnexpired(expiresAt: number | null, now: number): boolean {
  return expiresAt === null || expiresAt > now;
}

/**
 * - `reauth`: the grant is gone (revoked, expired, rotated away); only the user can fix it.
 * - `operator`: our client is misconfigured at the provider, or the provider's configuration is unusable; alert
 *   operations, do not blame the connection.
 * - `transient`: throttling, outages, timeouts; retry later with backoff.
 */
export type FailureClass = "reauth" | "operator" | "transient";

/** OAuth error codes that mean the user must authorize again (RFC 6749 §5.2; OIDC Core §3.1.2.6 for Microsoft). */
const REAUTH_ERRORS = new Set(["invalid_grant", "interaction_required", "consent_required", "login_required"]);
const TRANSIENT_ERRORS = new Set(["temporarily_unavailable", "server_error", "slow_down"]);

export function classifyFailure(failure: TokenFailure): FailureClass {
  switch (failure.kind) {
    case "timeout":
    case "network":
    case "http_error":
    case "malformed_response":
      return "transient";
    case "provider_misconfigured":
      return "operator";
    case "oauth_error": {
      const error = failure.error ?? "";
      if (REAUTH_ERRORS.has(error)) return "reauth";
      if (TRANSIENT_ERRORS.has(error) || failure.status === 429 || (failure.status ?? 0) >= 500) return "transient";
      // invalid_client, unauthorized_client, invalid_request, invalid_scope: our configuration or our bug.
      return "operator";
    }
  }
}

/** A short, stable label for logs and audit details. */
export function failureLabel(failure: TokenFailure): string {
  if (failure.kind === "oauth_error") return failure.error ?? "oauth_error";
  if (failure.kind === "http_error") return failure.status === 429 ? "rate_limited" : `http_${failure.status ?? "error"}`;
  return failure.kind;
}

/**
 * Milliseconds to wait after the `failures`-th consecutive failure: exponential from 30 s, capped at 1 h, and never
 * shorter than the provider's `Retry-After`.
 */
export function cooldownMs(failures: number, retryAfterSeconds: number | null): number {
  const exponential = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1));
  return Math.max(exponential, (retryAfterSeconds ?? 0) * 1000);
}

/** A timeout or dropped connection may have reached the provider, which may already have rotated the token. */
export function mayHaveReachedProvider(lastFailure: string | null): boolean {
  return lastFailure === "timeout" || lastFailure === "network";
}
