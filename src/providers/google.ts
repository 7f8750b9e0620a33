/** Google APIs (Gmail, Calendar, Drive) with OpenID Connect identity. */
import type { BuiltInProviderConfig, ClientCredentials, EndpointOverrides } from "../config";
import { accountFromClaims, RS256_ONLY, remoteKeySet, verifyIdToken, type IdTokenResult } from "./id-token";
import {
  createAuthorizationUrl,
  exchangeAuthorizationCode,
  refreshAccessToken,
  requireCredentials,
  revokeAt,
  type TokenEndpoint,
} from "./oauth-client";
import type { AuthorizationRequest, Provider, TokenSet } from "./provider";
import { normalizeScopeList } from "../scopes";

export const GOOGLE_ENDPOINTS = {
  authorizationUrl: "https://accounts.google.com/o/oauth2/v2/auth",
  tokenUrl: "https://oauth2.googleapis.com/token",
  revocationUrl: "https://oauth2.googleapis.com/revoke",
  jwksUrl: "https://www.googleapis.com/oauth2/v3/certs",
  issuer: "https://accounts.google.com",
} as const;

/** Google documents both spellings of its issuer in id_tokens. */
const GOOGLE_ISSUERS = ["https://accounts.google.com", "accounts.google.com"];

const AUTH = "https://www.googleapis.com/auth/";

const DEFAULT_SCOPES = ["openid", "email", "profile"];
const ALLOWED_SCOPES = [
  "openid",
  "email",
  "profile",
  ...[
    ...["userinfo.email", "userinfo.profile"],
    ...["calendar", "calendar.readonly", "calendar.events", "calendar.events.readonly"],
    ...["gmail.readonly", "gmail.send", "gmail.compose", "gmail.modify", "gmail.labels"],
    ...["drive", "drive.file", "drive.readonly", "drive.metadata.readonly"],
  ].map((scope) => AUTH + scope),
];

/** Google may answer `email`/`profile` as their `userinfo.*` URLs; both spellings mean the same grant. */
export function normalizeGoogleScope(scope: string): string {
  if (scope === `${AUTH}userinfo.email`) return "email";
  if (scope === `${AUTH}userinfo.profile`) return "profile";
  return scope;
}

/** Parameters shared by Google and YouTube: a refresh token (`access_type=offline`) and incremental auth. */
export function addGoogleAuthorizationParams(url: URL): void {
  url.searchParams.set("access_type", "offline");
  url.searchParams.set("include_granted_scopes", "true");
}

/** Google's production endpoints with the operator's overrides (config sets only the overridden members). */
export function googleEndpoints(overrides: EndpointOverrides) {
  return { ...GOOGLE_ENDPOINTS, ...overrides };
}

/** What a Google id_token is checked against: the key set, the issuers and our client id. */
export interface GoogleIdTokenCheck {
  jwksUrl: string;
  issuers: readonly string[];
  clientId: string;
}

/** The check for a client: exactly the overridden issuer when one is configured, else Google's two spellings. */
export function googleIdTokenCheck(overrides: EndpointOverrides, clientId: string): GoogleIdTokenCheck {
  const { jwksUrl, issuer } = googleEndpoints(overrides);
  return { jwksUrl, issuers: overrides.issuer ? [issuer] : GOOGLE_ISSUERS, clientId };
}

export type GoogleAccountResult = IdTokenResult & ({ ok: false } | { ok: true; grantKey: string });

/**
 * The Google account a token response belongs to, from its verified id_token (RS256, issuer, audience, nonce), for
 * Google and YouTube alike. Google keeps one grant per OAuth client and account, so `{client_id}:{sub}` names the
 * grant every connection of that client and account shares.
 */
export async function verifyGoogleAccount(
  tokens: TokenSet,
  nonce: string,
  now: Date,
  check: GoogleIdTokenCheck,
): Promise<GoogleAccountResult> {
  if (tokens.idToken === null) return { ok: false, reason: "identity_failed", detail: "no id_token in the token response" };
  const verified = await verifyIdToken(tokens.idToken, remoteKeySet(check.jwksUrl), {
    issuers: check.issuers,
    clientId: check.clientId,
    nonce,
    now,
    algorithms: RS256_ONLY,
  });
  if (!verified.ok) return verified;
  return { ...verified, grantKey: `${check.clientId}:${String(verified.claims.sub)}` };
}

export function googleTokenEndpoint(tokenUrl: string, credentials: ClientCredentials, timeoutMs: number): TokenEndpoint {
  return { url: tokenUrl, credentials, clientAuth: "basic", encoding: "form", timeoutMs };
}

export function createGoogleProvider(config: BuiltInProviderConfig): Provider {
  const endpoints = googleEndpoints(config.endpoints);
  const { issuer } = endpoints;
  const credentials = () => requireCredentials("google", config.credentials);
  const tokenEndpoint = () => googleTokenEndpoint(endpoints.tokenUrl, credentials(), config.upstreamTimeoutMs);

  return {
    id: "google",
    name: "Google",
    configured: config.credentials !== null,
    defaultScopes: DEFAULT_SCOPES,
    allowedScopes: ALLOWED_SCOPES,
    usesPkce: true,
    // Google sends `iss` on the callback without advertising it (RFC 9207): accept on exact match, never require.
    issuer: async () => ({ issuer, requiresIssParameter: false }),
    async authorizationUrl(request: AuthorizationRequest) {
      // `openid` is always asked for: the account is identified from the id_token.
      const scopes = [...new Set(["openid", ...request.scopes])];
      const url = createAuthorizationUrl(endpoints.authorizationUrl, credentials().clientId, request, {
        scopes,
        pkce: true,
      });
      addGoogleAuthorizationParams(url);
      url.searchParams.set("nonce", request.nonce);
      // A refresh token is only issued on consent; forcing it again would mint one more (100 per account cap).
      if (!request.hasRefreshToken) url.searchParams.set("prompt", "consent");
      return url;
    },
    exchangeCode: (code, codeVerifier, redirectUri) => exchangeAuthorizationCode(tokenEndpoint(), code, codeVerifier, redirectUri),
    refresh: (refreshToken) => refreshAccessToken(tokenEndpoint(), refreshToken),
    revoke: (token, hint) => revokeAt(tokenEndpoint(), endpoints.revocationUrl, token, hint),
    async identify(tokens, nonce, now) {
      const verified = await verifyGoogleAccount(tokens, nonce, now, googleIdTokenCheck(config.endpoints, credentials().clientId));
      if (!verified.ok) return verified;
      return { ok: true, account: accountFromClaims(verified.claims), grantKey: verified.grantKey };
    },
    normalizeScopes: (scopes) => normalizeScopeList(scopes, normalizeGoogleScope),
  };
}
