/** Microsoft identity platform v2.0 (Microsoft Graph delegated permissions). */
import type { BuiltInProviderConfig } from "../config";
import { RS256_ONLY, remoteKeySet, unverifiedClaims, verifyIdToken } from "./id-token";
import {
  createAuthorizationUrl,
  exchangeAuthorizationCode,
  refreshAccessToken,
  requireCredentials,
  type TokenEndpoint,
} from "./oauth-client";
import type { IdentityResult, Provider, TokenResult, TokenSet } from "./provider";
import { caseInsensitiveTo, normalizeScopeList, parseScopes } from "../scopes";

const LOGIN_HOST = "https://login.microsoftonline.com";
const MICROSOFT_ENDPOINTS = {
  authorizationUrl: (tenant: string) => `${LOGIN_HOST}/${tenant}/oauth2/v2.0/authorize`,
  tokenUrl: (tenant: string) => `${LOGIN_HOST}/${tenant}/oauth2/v2.0/token`,
  jwksUrl: `${LOGIN_HOST}/common/discovery/v2.0/keys`,
  /** `{tenantid}` is replaced by the id_token's own `tid`. */
  issuerTemplate: `${LOGIN_HOST}/{tenantid}/v2.0`,
} as const;

/** The tenant of all personal Microsoft accounts. */
export const CONSUMER_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad";
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const GRAPH_PREFIX = "https://graph.microsoft.com/";
const DEFAULT_SCOPES = ["openid", "profile", "email", "offline_access", "User.Read"];
const ALLOWED_SCOPES = [
  ...DEFAULT_SCOPES,
  ...["Mail.Read", "Mail.ReadWrite", "Mail.Send", "Calendars.Read", "Calendars.ReadWrite", "Contacts.Read"],
  ...["Files.Read", "Files.ReadWrite", "Files.Read.All", "Files.ReadWrite.All"],
];
const toAllowedSpelling = caseInsensitiveTo(ALLOWED_SCOPES);

/** Graph scopes come back long (`https://graph.microsoft.com/Mail.Read`) and in any case; compare them short. */
function normalizeMicrosoftScope(scope: string): string {
  const short = scope.toLowerCase().startsWith(GRAPH_PREFIX) ? scope.slice(GRAPH_PREFIX.length) : scope;
  return toAllowedSpelling(short);
}

/**
 * Whether a token issued in tenant `tid` may be accepted when the app is configured for `tenant`. A domain-named
 * tenant only issues tokens of its own directory, so like `organizations` it only excludes personal accounts.
 */
export function isTenantAllowed(tenant: string, tid: string): boolean {
  const configured = tenant.toLowerCase();
  const issued = tid.toLowerCase();
  if (configured === "common") return true;
  if (configured === "consumers") return issued === CONSUMER_TENANT_ID;
  if (GUID.test(configured)) return issued === configured;
  return issued !== CONSUMER_TENANT_ID;
}

/** `offline_access` rarely comes back in `scope`; a refresh token in the response is what proves it was granted. */
function withOfflineAccess(result: TokenResult): TokenResult {
  if (!result.ok || result.tokens.refreshToken === null) return result;
  const scopes = parseScopes(result.tokens.scope);
  if (scopes.some((scope) => scope.toLowerCase() === "offline_access")) return result;
  const tokens: TokenSet = { ...result.tokens, scope: [...scopes, "offline_access"].join(" ") };
  return { ok: true, tokens };
}

export function createMicrosoftProvider(config: BuiltInProviderConfig & { tenant: string }): Provider {
  const { tenant } = config;
  const endpoints = {
    authorizationUrl: MICROSOFT_ENDPOINTS.authorizationUrl(tenant),
    tokenUrl: MICROSOFT_ENDPOINTS.tokenUrl(tenant),
    jwksUrl: MICROSOFT_ENDPOINTS.jwksUrl,
    issuer: MICROSOFT_ENDPOINTS.issuerTemplate,
    ...config.endpoints,
  };
  const credentials = () => requireCredentials("microsoft", config.credentials);
  // The code must be redeemed under the tenant path it was issued for (else AADSTS700005).
  const tokenEndpoint = (): TokenEndpoint => ({
    url: endpoints.tokenUrl,
    credentials: credentials(),
    clientAuth: "basic",
    encoding: "form",
    timeoutMs: config.upstreamTimeoutMs,
  });

  async function identify(tokens: TokenSet, nonce: string, now: Date): Promise<IdentityResult> {
    if (tokens.idToken === null) return { ok: false, reason: "identity_failed", detail: "no id_token in the token response" };
    const tid = unverifiedClaims(tokens.idToken)?.tid;
    if (typeof tid !== "string" || !GUID.test(tid)) return { ok: false, reason: "invalid_id_token", detail: "id_token has no valid tid" };
    if (!isTenantAllowed(tenant, tid)) return { ok: false, reason: "invalid_id_token", detail: "tenant not allowed by MICROSOFT_TENANT" };
    const verified = await verifyIdToken(tokens.idToken, remoteKeySet(endpoints.jwksUrl), {
      issuers: [endpoints.issuer.replace("{tenantid}", tid)],
      clientId: credentials().clientId,
      nonce,
      now,
      algorithms: RS256_ONLY,
    });
    if (!verified.ok) return verified;
    const { oid, name, email, xms_edov: emailDomainOwnerVerified } = verified.claims;
    if (typeof oid !== "string" || oid === "") return { ok: false, reason: "identity_failed", detail: "id_token has no oid" };
    return {
      ok: true,
      account: {
        // `oid` is unique only within a tenant; `sub` is pairwise per app, so neither alone is the account key.
        id: `${tid.toLowerCase()}:${oid}`,
        // Microsoft sends no `email_verified`, and any tenant can set any address as a user's email. Its optional claim
        // `xms_edov`, documented as a Boolean ("Optional claims reference"), says the owner of the email's domain has
        // verified it; the app registration must request it along with `email`, else no email is kept.
        ...(emailDomainOwnerVerified === true && typeof email === "string" ? { email } : {}),
        ...(typeof name === "string" ? { name } : {}),
      },
    };
  }

  return {
    id: "microsoft",
    name: "Microsoft",
    configured: config.credentials !== null,
    defaultScopes: DEFAULT_SCOPES,
    allowedScopes: ALLOWED_SCOPES,
    usesPkce: true,
    // Microsoft sends no `iss` on the callback; the issuer depends on the user's tenant and is checked in the id_token.
    issuer: async () => ({ issuer: null, requiresIssParameter: false }),
    async authorizationUrl(request) {
      // Identity comes from the id_token (`openid`) and no refresh token is issued without `offline_access`.
      const scopes = [...new Set(["openid", "offline_access", ...request.scopes])];
      const url = createAuthorizationUrl(endpoints.authorizationUrl, credentials().clientId, request, {
        scopes,
        pkce: true,
      });
      // `form_post` would be a cross-site POST that drops the SameSite=Lax flow cookie.
      url.searchParams.set("response_mode", "query");
      url.searchParams.set("nonce", request.nonce);
      return url;
    },
    exchangeCode: async (code, codeVerifier, redirectUri) =>
      withOfflineAccess(await exchangeAuthorizationCode(tokenEndpoint(), code, codeVerifier, redirectUri)),
    refresh: async (refreshToken) => withOfflineAccess(await refreshAccessToken(tokenEndpoint(), refreshToken)),
    // No RFC 7009 endpoint; revokeSignInSessions would end every session of the user, so disconnect only forgets tokens.
    revoke: async () => ({ kind: "unsupported" }),
    identify,
    normalizeScopes: (scopes) => normalizeScopeList(scopes, normalizeMicrosoftScope),
  };
}
