/**
 * The pieces every provider is assembled from: the authorization URL (arctic's generic `OAuth2Client`, which takes
 * the endpoint as an argument so overrides work) and the three token endpoint calls (our token client).
 */
import { CodeChallengeMethod, OAuth2Client } from "arctic";
import type { ClientCredentials } from "../config";
import type { AuthorizationRequest, RevokeResult, TokenResult } from "./provider";
import { requestToken, revokeToken, type TokenEndpointRequest } from "./token-client";

export interface TokenEndpoint {
  url: string;
  credentials: ClientCredentials;
  clientAuth: "basic" | "body";
  encoding: "form" | "json";
  headers?: Record<string, string>;
  timeoutMs: number;
}

/** `response_type=code`, `client_id`, `redirect_uri`, `state`, `scope` and, when `pkce`, an S256 challenge. */
export function createAuthorizationUrl(
  endpoint: string,
  clientId: string,
  request: AuthorizationRequest,
  options: { scopes: readonly string[]; pkce: boolean },
): URL {
  const client = new OAuth2Client(clientId, null, request.redirectUri);
  if (!options.pkce) return client.createAuthorizationURL(endpoint, request.state, [...options.scopes]);
  if (request.codeVerifier === null) throw new Error("a PKCE code verifier is required for this provider");
  return client.createAuthorizationURLWithPKCE(endpoint, request.state, CodeChallengeMethod.S256, request.codeVerifier, [
    ...options.scopes,
  ]);
}

/** RFC 6749 §4.1.3 code exchange, with the PKCE verifier (RFC 7636 §4.5) when there is one. */
export function exchangeAuthorizationCode(
  endpoint: TokenEndpoint,
  code: string,
  codeVerifier: string | null,
  redirectUri: string,
): Promise<TokenResult> {
  const params: Record<string, string> = { grant_type: "authorization_code", code, redirect_uri: redirectUri };
  if (codeVerifier !== null) params.code_verifier = codeVerifier;
  return requestToken(tokenRequest(endpoint, endpoint.url, params));
}

/** RFC 6749 §6 refresh grant. */
export function refreshAccessToken(endpoint: TokenEndpoint, refreshToken: string): Promise<TokenResult> {
  return requestToken(tokenRequest(endpoint, endpoint.url, { grant_type: "refresh_token", refresh_token: refreshToken }));
}

/** RFC 7009 revocation at `revocationUrl`, with the same client authentication as the token endpoint. */
export function revokeAt(
  endpoint: TokenEndpoint,
  revocationUrl: string,
  token: string,
  hint: "refresh_token" | "access_token" | null,
): Promise<RevokeResult> {
  const params: Record<string, string> = { token };
  if (hint !== null) params.token_type_hint = hint;
  return revokeToken(tokenRequest(endpoint, revocationUrl, params));
}

function tokenRequest(endpoint: TokenEndpoint, url: string, params: Record<string, string>): TokenEndpointRequest {
  const { clientId, clientSecret } = endpoint.credentials;
  const request: TokenEndpointRequest = {
    url,
    params,
    encoding: endpoint.encoding,
    clientAuth: { method: endpoint.clientAuth, clientId, clientSecret },
    timeoutMs: endpoint.timeoutMs,
  };
  if (endpoint.headers) request.headers = endpoint.headers;
  return request;
}

/** The credentials of a configured provider; callers check `configured` first, so this is a programming error. */
export function requireCredentials(providerId: string, credentials: ClientCredentials | null): ClientCredentials {
  if (!credentials) throw new Error(`provider ${providerId} is not configured`);
  return credentials;
}
