/**
 * The decisions of a refresh, as pure functions of what the row and the request say: whether the stored token
 * answers the request, whether a cooldown holds the refresh back, what a failed refresh means and how long the
 * connection then cools down. No I/O and no clock: `now` is passed in.
 */
import type { TokenFailure } from "../providers/provider";

/** Seconds of remaining validity a vend asks for unless it says otherwise (docs/http-api.md, "Vending outcomes"). */
export const DEFAULT_MIN_VALIDITY_SECONDS = 300;
/**
 * The most `min_validity_seconds` may ask for: half the life of Google's 3,599-second access tokens, so that no
 * value makes every vend refresh a token that was just issued (docs/http-api.md, "Vending outcomes").
 */
export const MAX_MIN_VALIDITY_SECONDS = 1800;
const BACKOFF_BASE_MS = 30_000;
const BACKOFF_MAX_MS = 60 * 60_000;

/** When an access token expires and when it was issued (`null`: unknown). */
export interface TokenLife {
  expiresAt: number | null;
  issuedAt: number | null;
}

/**
 * True when the token stays valid for `minValiditySeconds`, or, when it was issued with a life no longer than that,
 * while at least half of that life remains: a provider issuing 5-minute tokens must not cause a refresh on every
 * vend (with the default 300 s, a 300 s token could never stay valid that long). An unknown expiry (Notion) counts as fresh; an unknown issue time leaves `minValiditySeconds` alone to decide.
 */
export function isFreshEnough(token: TokenLife, now: number, minValiditySeconds: number): boolean {
  const { expiresAt, issuedAt } = token;
  if (expiresAt === null) return true;
  const remaining = expiresAt - now;
  const wanted = minValiditySeconds * 1000;
  if (remaining >= wanted) return true;
  if (issuedAt === null) return false;
  const life = expiresAt - issuedAt;
  return life <= wanted && remaining > 0 && remaining * 2 >= life;
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

/** An access token as a refresh decision sees it. */
export interface AccessTokenFacts extends TokenLife {
  accessToken: string;
}

/**
 * Whether `token` answers the request without another upstream call. `refreshedSinceAsked`: the token comes from a
 * refresh that finished after the caller asked.
 */
export function tokenAnswers(ask: RefreshAsk, token: AccessTokenFacts, refreshedSinceAsked: boolean, now: number): boolean {
  switch (ask.trigger) {
    case "rejected":
      // Another caller's report already led to a refresh: the token they rejected is gone.
      return token.accessToken !== ask.rejectedToken && isUnexpired(token.expiresAt, now);
    case "force":
      return refreshedSinceAsked;
    case "vend":
    case "cron":
      // An unknown expiry counts as fresh, so the cron never refreshes one on a schedule.
      return isFreshEnough(token, now, ask.minValiditySeconds);
  }
}

/** The stored tokens in plain text. */
export interface StoredTokens extends AccessTokenFacts {
  /** `null` when the connection holds none. */
  refreshToken: string | null;
}

/** A cooldown's failure class: a vend during the cooldown answers as that failure did. */
export type CooldownClass = Exclude<FailureClass, "reauth">;

/** What the stored row says, as far as a refresh decision needs it. */
export interface RefreshFacts<Provider> {
  status: "active" | "needs_reauth";
  /** `null` when no key in the ring decrypts them. */
  tokens: StoredTokens | null;
  lastRefreshedAt: number | null;
  refreshBlockedUntil: number | null;
  /** The class of the failure that started the cooldown; `null` (a cooldown recorded before classes were) is transient. */
  cooldownClass: CooldownClass | null;
  /** The connection's provider when it is configured, else `null`; handed back untouched in a `refresh` decision. */
  provider: Provider | null;
}

export type RefreshDecision<Provider> =
  /** The connection already needs re-authorization: nothing to write, nothing to call. */
  | { kind: "needs_reauth" }
  /** No refresh is possible without the user: mark the connection `needs_reauth` for `reason`. */
  | { kind: "mark_needs_reauth"; reason: "key_unavailable" | "no_refresh_token" }
  /** The stored token answers the request. */
  | { kind: "use_stored"; tokens: StoredTokens }
  /** A cooldown after a failed refresh is still running. */
  | { kind: "cooling_down"; tokens: StoredTokens; failureClass: CooldownClass; retryAfterSeconds: number }
  /** No refresh is possible with this configuration: a failure like an upstream one (see `classifyRefreshFailure`). */
  | { kind: "provider_not_configured"; tokens: StoredTokens }
  /** Call the provider. */
  | { kind: "refresh"; tokens: StoredTokens & { refreshToken: string }; provider: Provider };

/** What a refresh of this connection does for this request at `now`; the stored tokens travel with the decision. */
export function decideRefresh<Provider>(facts: RefreshFacts<Provider>, ask: RefreshAsk, now: number): RefreshDecision<Provider> {
  const { tokens } = facts;
  if (facts.status === "needs_reauth") return { kind: "needs_reauth" };
  // A key removed from the ring too early, or a damaged value: only a new grant brings tokens this ring can read.
  if (tokens === null) return { kind: "mark_needs_reauth", reason: "key_unavailable" };
  const refreshedSinceAsked = facts.lastRefreshedAt !== null && facts.lastRefreshedAt >= ask.requestedAt;
  if (tokenAnswers(ask, tokens, refreshedSinceAsked, now)) return { kind: "use_stored", tokens };
  if (facts.refreshBlockedUntil !== null && facts.refreshBlockedUntil > now) {
    return {
      kind: "cooling_down",
      tokens,
      failureClass: facts.cooldownClass ?? "transient",
      retryAfterSeconds: Math.ceil((facts.refreshBlockedUntil - now) / 1000),
    };
  }
  if (facts.provider === null) return { kind: "provider_not_configured", tokens };
  const { refreshToken } = tokens;
  if (refreshToken === null) return { kind: "mark_needs_reauth", reason: "no_refresh_token" };
  return { kind: "refresh", tokens: { ...tokens, refreshToken }, provider: facts.provider };
}

/** How long a streak of transient failures lasts before subscribers are told (`connection.refresh_failed`). */
export const TRANSIENT_STREAK_REPORTED_AFTER_MS = 60 * 60_000;

/** A connection's current streak of failed refreshes. */
export interface FailureStreak {
  /** When its first failure happened. */
  failingSince: number;
  /** When it was reported as `connection.refresh_failed`; `null`: not yet. */
  reportedAt: number | null;
}

/**
 * Whether a failed refresh at `now` is the one that reports its streak: once per streak, at once for an operator
 * error (only the operator can end it), and for transient failures once they have lasted an hour (a provider's
 * short outage heals by itself, and subscribers would only hear noise).
 */
export function reportsFailureStreak(failureClass: CooldownClass, streak: FailureStreak, now: number): boolean {
  if (streak.reportedAt !== null) return false;
  return failureClass === "operator" || now - streak.failingSince >= TRANSIENT_STREAK_REPORTED_AFTER_MS;
}

/** Why a refresh failed. */
export type RefreshFailure =
  | { kind: "token_endpoint"; failure: TokenFailure }
  /**
   * The provider threw instead of answering with a classified failure (every known failure, an unusable OpenID
   * discovery document included, comes back as `token_endpoint`): an operator matter, never a 500, and not retried
   * on every call or cron run.
   */
  | { kind: "provider_threw" }
  /** The connection's provider is not (or no longer) configured. */
  | { kind: "provider_not_configured" };

/** The connection's failure record before this attempt. */
export interface FailureHistory {
  /** Consecutive failed attempts so far. */
  failures: number;
  /** The label of the last failure, `null` after a success. */
  lastFailure: string | null;
}

export type FailureVerdict =
  /** Refreshing ends until the user reconnects; `reason` becomes the connection's `status_reason`. */
  | { failureClass: "reauth"; reason: string }
  /** Refreshes are blocked for `cooldownMs`. */
  | { failureClass: CooldownClass; reason: string; cooldownMs: number };

/**
 * What a failed refresh means for the connection, given the failure before it. Operator errors cool down like
 * transient ones (exponential, at least `Retry-After`): retrying them every time helps nobody, and a cron run's
 * budget must go to connections it can refresh.
 */
export function classifyRefreshFailure(failure: RefreshFailure, history: FailureHistory): FailureVerdict {
  const cooldown = cooldownMs(history.failures + 1, failure.kind === "token_endpoint" ? failure.failure.retryAfterSeconds : null);
  switch (failure.kind) {
    case "provider_threw":
      return { failureClass: "operator", reason: "provider_error", cooldownMs: cooldown };
    case "provider_not_configured":
      return { failureClass: "operator", reason: "provider_not_configured", cooldownMs: cooldown };
    case "token_endpoint": {
      const failureClass = classifyFailure(failure.failure);
      const label = failureLabel(failure.failure);
      if (failureClass !== "reauth") return { failureClass, reason: label, cooldownMs: cooldown };
      // A lost response after the provider rotated cannot be recovered: the old token is dead (RFC 9700 §4.14.2).
      return { failureClass, reason: mayHaveReachedProvider(history.lastFailure) ? `${label}_after_lost_response` : label };
    }
  }
}
