/** Any standard OpenID Connect provider an operator adds through `OIDC_PROVIDERS`. */
import type { OidcProviderConfig } from "../config";
import { accountFromClaims, RS256_ONLY, remoteKeySet, verifyIdToken } from "./id-token";
import {
  createAuthorizationUrl,
  exchangeAuthorizationCode,
  refreshAccessToken,
  requireCredentials,
  revokeAt,
  type TokenEndpoint,
} from "./oauth-client";
import { createDiscoveryCache, DiscoveryError, type DiscoveryDocument } from "./oidc-discovery";
import type { Provider, RevokeResult, TokenFailure, TokenResult } from "./provider";
import { normalizeScopeList } from "../scopes";

/** Asymmetric algorithms accepted beyond RS256 when the discovery document advertises them. */
const OPTIONAL_ALGORITHMS = ["ES256", "PS256"];

/** RFC 6749 §2.3.1 makes Basic the one every server must support, so it wins when offered. */
function clientAuthMethod(document: DiscoveryDocument): "basic" | "body" {
  const methods = document.token_endpoint_auth_methods_supported ?? ["client_secret_basic"];
  return !methods.includes("client_secret_basic") && methods.includes("client_secret_post") ? "body" : "basic";
}

function idTokenAlgorithms(document: DiscoveryDocument): string[] {
  const advertised = document.id_token_signing_alg_values_supported ?? [];
  return [...RS256_ONLY, ...OPTIONAL_ALGORITHMS.filter((alg) => advertised.includes(alg))];
}

const DISCOVERY_UNAVAILABLE: TokenFailure = { kind: "network", status: null, error: null, description: null, retryAfterSeconds: null };
const DISCOVERY_UNUSABLE: TokenFailure = { ...DISCOVERY_UNAVAILABLE, kind: "provider_misconfigured" };

/**
 * A token call that could not be made because discovery failed, as a classified failure instead of an exception: a
 * transient failure (no answer, 5xx, 429) is a `network` failure worth retrying; a document that is missing or invalid
 * (404, malformed, another issuer) is `provider_misconfigured` until an operator fixes the provider's configuration.
 */
async function withDiscovery<T>(
  providerId: string,
  discover: () => Promise<DiscoveryDocument>,
  failed: (failure: TokenFailure) => T,
  call: (document: DiscoveryDocument) => Promise<T>,
): Promise<T> {
  let document: DiscoveryDocument;
  try {
    document = await discover();
  } catch (error) {
    if (!(error instanceof DiscoveryError)) throw error;
    if (error.transient) return failed(DISCOVERY_UNAVAILABLE);
    // The message names the issuer and what is wrong with its document, never a token: what the operator must fix.
    console.error(
      JSON.stringify({ message: "OPERATOR ACTION NEEDED: OIDC discovery unusable", provider: providerId, reason: error.message }),
    );
    return failed(DISCOVERY_UNUSABLE);
  }
  return call(document);
}

const tokenCallFailed = (failure: TokenFailure): TokenResult => ({ ok: false, failure });
const revocationFailed = (failure: TokenFailure): RevokeResult => ({ kind: "failed", failure });

export function createOidcProvider(config: OidcProviderConfig): Provider {
  const discover = createDiscoveryCache(config.issuer);
  const credentials = () => requireCredentials(config.id, config.credentials);
  const tokenEndpoint = (document: DiscoveryDocument): TokenEndpoint => ({
    url: document.token_endpoint,
    credentials: credentials(),
    clientAuth: clientAuthMethod(document),
    encoding: "form",
    timeoutMs: config.upstreamTimeoutMs,
  });

  return {
    id: config.id,
    name: config.name,
    configured: config.credentials !== null,
    defaultScopes: config.defaultScopes,
    allowedScopes: config.scopes,
    usesPkce: true,
    async issuer() {
      const document = await discover();
      return { issuer: config.issuer, requiresIssParameter: document.authorization_response_iss_parameter_supported === true };
    },
    async authorizationUrl(request) {
      const document = await discover();
      const scopes = [...new Set(["openid", ...request.scopes])];
      const url = createAuthorizationUrl(document.authorization_endpoint, credentials().clientId, request, { scopes, pkce: true });
      url.searchParams.set("nonce", request.nonce);
      // Operator parameters add to ours; they never replace state, nonce, PKCE or the redirect URI.
      for (const [name, value] of Object.entries(config.authorizationParams)) {
        if (!url.searchParams.has(name)) url.searchParams.set(name, value);
      }
      // OIDC Core §11: offline_access needs prompt=consent, even when a refresh token is already held (an
      // incremental authorization): without it a conforming server drops offline_access from the new grant.
      if (scopes.includes("offline_access")) {
        const prompt = (url.searchParams.get("prompt") ?? "").split(" ").filter(Boolean);
        if (!prompt.includes("consent")) url.searchParams.set("prompt", [...prompt, "consent"].join(" "));
      }
      return url;
    },
    exchangeCode: (code, codeVerifier, redirectUri) =>
      withDiscovery(config.id, discover, tokenCallFailed, (document) =>
        exchangeAuthorizationCode(tokenEndpoint(document), code, codeVerifier, redirectUri),
      ),
    refresh: (refreshToken) =>
      withDiscovery(config.id, discover, tokenCallFailed, (document) => refreshAccessToken(tokenEndpoint(document), refreshToken)),
    // Whether revocation exists is only known from discovery (RFC 8414 §2 makes `revocation_endpoint` optional).
    revoke: (token, hint) =>
      withDiscovery(config.id, discover, revocationFailed, async (document) =>
        document.revocation_endpoint
          ? revokeAt(tokenEndpoint(document), document.revocation_endpoint, token, hint)
          : { kind: "unsupported" },
      ),
    async identify(tokens, nonce, now) {
      if (tokens.idToken === null) return { ok: false, reason: "identity_failed", detail: "no id_token in the token response" };
      let document: DiscoveryDocument;
      try {
        document = await discover();
      } catch {
        return { ok: false, reason: "identity_failed", detail: "discovery document unavailable" };
      }
      const verified = await verifyIdToken(tokens.idToken, remoteKeySet(document.jwks_uri), {
        issuers: [config.issuer],
        clientId: credentials().clientId,
        nonce,
        now,
        algorithms: idTokenAlgorithms(document),
      });
      if (!verified.ok) return verified;
      return { ok: true, account: accountFromClaims(verified.claims) };
    },
    normalizeScopes: (scopes) => normalizeScopeList(scopes),
  };
}
