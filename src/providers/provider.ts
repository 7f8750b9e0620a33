/** The provider port: what the flow, vending and revocation need from any OAuth provider. */

/** Tokens as a token endpoint returned them (code exchange or refresh). */
export interface TokenSet {
  accessToken: string;
  /** `null` when the response carried none (keep the stored one on refresh). */
  refreshToken: string | null;
  /** Seconds; `null` when the provider gives no expiry (Notion). */
  expiresIn: number | null;
  /** Granted scopes as returned (space-separated), `null` when absent. */
  scope: string | null;
  idToken: string | null;
  /** The whole JSON body, for provider-specific identity (Notion's owner and workspace). Never logged. */
  body: Record<string, unknown>;
}

/** Why a token endpoint call failed; see `TokenFailure`. */
export type TokenFailureKind =
  | "oauth_error" // the provider answered with an OAuth error body (`error` holds its code)
  | "http_error" // a non-2xx without an OAuth error body (throttling pages, 5xx)
  | "timeout"
  | "network"
  | "malformed_response" // 2xx that is not a usable token response
  | "provider_misconfigured"; // the provider's configuration or discovery document is unusable until an operator acts

export interface TokenFailure {
  kind: TokenFailureKind;
  /** HTTP status, when a response arrived. */
  status: number | null;
  /** OAuth `error` code (`invalid_grant`, `invalid_client`, …) when the body had one. */
  error: string | null;
  /** Provider's `error_description`; for logs only after redaction, never for callers. */
  description: string | null;
  /** Seconds from `Retry-After`, when present and parseable. */
  retryAfterSeconds: number | null;
}

export type TokenResult = { ok: true; tokens: TokenSet } | { ok: false; failure: TokenFailure };

/**
 * What a revocation (RFC 7009) did: `unsupported` when the provider has no revocation endpoint (Microsoft, an OpenID
 * provider whose discovery lists none), so the local wipe is all there is.
 */
export type RevokeResult = { kind: "revoked" } | { kind: "unsupported" } | { kind: "failed"; failure: TokenFailure };

/** Everything the authorization URL is built from; stored with the state between connect and callback. */
export interface AuthorizationRequest {
  state: string;
  /** PKCE verifier; `null` for providers without PKCE (Notion). */
  codeVerifier: string | null;
  nonce: string;
  scopes: string[];
  redirectUri: string;
  /** True when the user already holds a refresh token for this provider: skip forced consent (incremental auth). */
  hasRefreshToken: boolean;
}

export interface AccountIdentity {
  /** Stable account key at the provider (Google `sub`, Microsoft `tid:oid`, Notion `workspace:user`, channel id). */
  id: string;
  email?: string;
  name?: string;
}

export type IdentityFailureReason = "invalid_id_token" | "identity_failed";

export type IdentityResult =
  | {
      ok: true;
      account: AccountIdentity;
      /**
       * The grant at the provider that several connections can share, when the provider keeps one grant per client
       * and account (Google: `{client_id}:{sub}`, for Google and YouTube connections alike): revoking any of its
       * tokens ends them all. Absent when each connection's grant is its own.
       */
      grantKey?: string;
    }
  | { ok: false; reason: IdentityFailureReason; /** For logs; never a token. */ detail: string };

export interface Provider {
  readonly id: string;
  readonly name: string;
  /** False when its credentials are absent: listed, but refuses to connect. */
  readonly configured: boolean;
  readonly defaultScopes: readonly string[];
  readonly allowedScopes: readonly string[];
  readonly usesPkce: boolean;
  /**
   * The authorization server's issuer for RFC 9207 `iss` checks on the callback, or `null`.
   * `requiresIssParameter` is true when the server advertises `authorization_response_iss_parameter_supported`.
   */
  issuer(): Promise<{ issuer: string | null; requiresIssParameter: boolean }>;
  authorizationUrl(request: AuthorizationRequest): Promise<URL>;
  exchangeCode(code: string, codeVerifier: string | null, redirectUri: string): Promise<TokenResult>;
  refresh(refreshToken: string): Promise<TokenResult>;
  revoke(token: string, hint: "refresh_token" | "access_token"): Promise<RevokeResult>;
  /** Verifies the id_token (when the provider uses one) against `nonce` and identifies the account. */
  identify(tokens: TokenSet, nonce: string, now: Date): Promise<IdentityResult>;
  /** Scopes in the provider's normalised form, sorted and de-duplicated. */
  normalizeScopes(scopes: readonly string[]): string[];
}
