/**
 * The decisions of a refresh, as pure functions of what the row and the request say: whether the stored token
 * answers the request, whether a cooldown holds the refresh back, what a failed refresh means and how long the
 * connection then cools down. No I/O and no clock: `now` is passed in.
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

export type RefreshTrigger = "vend" | "force" | "rejected" | "cron";

/** What a caller asks of a refresh. */
export interface RefreshAsk {
  trigger: RefreshTrigger;
  /** Seconds the token must stay valid for the stored one to be good enough (`vend`, `cron`). */
  minValiditySeconds: number;
  /** The access token a provider just refused (`rejected`). */
  rejectedToken?: string;
  /** When the caller asked; a refresh finished after it satisfies a `force` request. */
  requestedAt: number;
}

/**
 * What the stored row says, as far as a refresh decision needs it. The provider and the refresh token are passed
 * through to a `refresh` decision untouched (their types are the caller's), so the caller holds them narrowed.
 */
export interface RefreshFacts<Provider, RefreshToken> {
  status: "active" | "needs_reauth";
  accessToken: string;
  expiresAt: number | null;
  lastRefreshedAt: number | null;
  refreshBlockedUntil: number | null;
  /** The connection's provider when it is configured, else `null`. */
  provider: Provider | null;
  /** `null` when the connection holds none. */
  refreshToken: RefreshToken | null;
}

export type RefreshDecision<Provider, RefreshToken> =
  /** The connection already needs re-authorization: nothing to write, nothing to call. */
  | { kind: "needs_reauth" }
  /** The stored token answers the request. */
  | { kind: "use_stored" }
  /** A cooldown after a failed refresh is still running. */
  | { kind: "cooling_down"; retryAfterSeconds: number }
  /** No refresh is possible with this configuration. */
  | { kind: "provider_not_configured" }
  /** No refresh is possible without the user: mark the connection `needs_reauth` for `reason`. */
  | { kind: "mark_needs_reauth"; reason: "no_refresh_token" }
  /** Call the provider. */
  | { kind: "refresh"; provider: Provider; refreshToken: RefreshToken };

/** Whether the stored token already answers the request, so no upstream call is needed. */
function storedTokenSuffices(facts: RefreshFacts<unknown, unknown>, ask: RefreshAsk, now: number): boolean {
  switch (ask.trigger) {
    case "rejected":
      // Another caller's report already led to a refresh: the token they rejected is gone.
      return facts.accessToken !== ask.rejectedToken && isUnexpired(facts.expiresAt, now);
    case "force":
      return facts.lastRefreshedAt !== null && facts.lastRefreshedAt >= ask.requestedAt;
    case "vend":
      return isFreshEnough(facts.expiresAt, now, ask.minValiditySeconds);
    case "cron":
      // The cron only selects known expiries; an unknown one is never refreshed on a schedule.
      return facts.expiresAt === null || isFreshEnough(facts.expiresAt, now, ask.minValiditySeconds);
  }
}

/** What a refresh of this connection does for this request at `now`. */
export function decideRefresh<Provider, RefreshToken>(
  facts: RefreshFacts<Provider, RefreshToken>,
  ask: RefreshAsk,
  now: number,
): RefreshDecision<Provider, RefreshToken> {
  if (facts.status === "needs_reauth") return { kind: "needs_reauth" };
  if (storedTokenSuffices(facts, ask, now)) return { kind: "use_stored" };
  if (facts.refreshBlockedUntil !== null && facts.refreshBlockedUntil > now) {
    return { kind: "cooling_down", retryAfterSeconds: Math.ceil((facts.refreshBlockedUntil - now) / 1000) };
  }
  if (facts.provider === null) return { kind: "provider_not_configured" };
  if (facts.refreshToken === null) return { kind: "mark_needs_reauth", reason: "no_refresh_token" };
  return { kind: "refresh", provider: facts.provider, refreshToken: facts.refreshToken };
}

/** The connection's failure record before this attempt. */
export interface FailureHistory {
  /** Consecutive failed attempts so far. */
  failures: number;
  /** The label of the last failure, `null` after a success. */
  lastFailure: string | null;
}

export interface FailureVerdict {
  failureClass: FailureClass;
  /** Stored as the row's failure label (and, for `reauth`, its `status_reason`) and audited. */
  reason: string;
  /** How long refreshes are blocked (`null` for `reauth`, which ends refreshing until the user reconnects). */
  cooldownMs: number | null;
}

/** What a failed refresh means for the connection, given the failure before it. */
export function classifyRefreshFailure(failure: TokenFailure, history: FailureHistory): FailureVerdict {
  const failureClass = classifyFailure(failure);
  const label = failureLabel(failure);
  if (failureClass === "reauth") {
    // A lost response after the provider rotated cannot be recovered: the old token is dead (RFC 9700 §4.14.2).
    const reason = mayHaveReachedProvider(history.lastFailure) ? `${label}_after_lost_response` : label;
    return { failureClass, reason, cooldownMs: null };
  }
  return { failureClass, reason: label, cooldownMs: cooldownMs(history.failures + 1, failure.retryAfterSeconds) };
}
