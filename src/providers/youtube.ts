/**
 * YouTube Data API: Google's OAuth endpoints and tokens, but the account is the channel, not the Google login. The
 * Google login is still verified (OpenID Connect), because the grant belongs to it: with one OAuth client, Google
 * and YouTube connections of one Google account share a grant, and revoking any of their tokens ends it.
 */
import type { BuiltInProviderConfig } from "../config";
import {
  addGoogleAuthorizationParams,
  googleEndpoints,
  googleIdTokenCheck,
  googleTokenEndpoint,
  normalizeGoogleScope,
  verifyGoogleAccount,
} from "./google";
import { createAuthorizationUrl, exchangeAuthorizationCode, refreshAccessToken, requireCredentials, revokeAt } from "./oauth-client";
import type { IdentityResult, Provider } from "./provider";
import { normalizeScopeList } from "../scopes";

const CHANNELS_URL = "https://www.googleapis.com/youtube/v3/channels";
const IDENTITY_TIMEOUT_MS = 10_000;

const AUTH = "https://www.googleapis.com/auth/";
const DEFAULT_SCOPES = [`${AUTH}youtube.readonly`];
const ALLOWED_SCOPES = [
  "youtube.readonly",
  "youtube",
  "youtube.upload",
  "youtube.force-ssl",
  "youtubepartner",
  "yt-analytics.readonly",
].map((scope) => AUTH + scope);

export function createYoutubeProvider(config: BuiltInProviderConfig): Provider {
  // `userinfoUrl` is the channels lookup: the account is the channel.
  const endpoints = { userinfoUrl: CHANNELS_URL, ...googleEndpoints(config.endpoints) };
  const credentials = () => requireCredentials("youtube", config.credentials);
  const tokenEndpoint = () => googleTokenEndpoint(endpoints.tokenUrl, credentials(), config.upstreamTimeoutMs);

  return {
    id: "youtube",
    name: "YouTube",
    configured: config.credentials !== null,
    defaultScopes: DEFAULT_SCOPES,
    allowedScopes: ALLOWED_SCOPES,
    usesPkce: true,
    issuer: async () => ({ issuer: endpoints.issuer, requiresIssParameter: false }),
    async authorizationUrl(request) {
      // `openid` (with a nonce) names the Google account behind the channel, whose grant the tokens belong to.
      const scopes = [...new Set(["openid", ...request.scopes])];
      const url = createAuthorizationUrl(endpoints.authorizationUrl, credentials().clientId, request, { scopes, pkce: true });
      addGoogleAuthorizationParams(url);
      url.searchParams.set("nonce", request.nonce);
      // Without `select_account` Google may skip the chooser, so the user could not pick a Brand Account channel.
      url.searchParams.set("prompt", "consent select_account");
      return url;
    },
    exchangeCode: (code, codeVerifier, redirectUri) => exchangeAuthorizationCode(tokenEndpoint(), code, codeVerifier, redirectUri),
    refresh: (refreshToken) => refreshAccessToken(tokenEndpoint(), refreshToken),
    revoke: (token, hint) => revokeAt(tokenEndpoint(), endpoints.revocationUrl, token, hint),
    async identify(tokens, nonce, now) {
      const google = await verifyGoogleAccount(tokens, nonce, now, googleIdTokenCheck(config.endpoints, credentials().clientId));
      if (!google.ok) return google;
      const channel = await identifyChannel(endpoints.userinfoUrl, tokens.accessToken);
      return channel.ok ? { ...channel, grantKey: google.grantKey } : channel;
    },
    normalizeScopes: (scopes) => normalizeScopeList(scopes, normalizeGoogleScope),
  };
}

/** The channel the token acts for (`channels?part=id,snippet&mine=true`); one connection per channel. */
async function identifyChannel(channelsUrl: string, accessToken: string): Promise<IdentityResult> {
  const url = new URL(channelsUrl);
  url.searchParams.set("part", "id,snippet");
  url.searchParams.set("mine", "true");
  let body: unknown;
  try {
    const response = await fetch(url, {
      headers: { Authorization: `Bearer ${accessToken}`, Accept: "application/json" },
      signal: AbortSignal.timeout(IDENTITY_TIMEOUT_MS),
    });
    if (!response.ok) return { ok: false, reason: "identity_failed", detail: `channels lookup answered ${response.status}` };
    body = await response.json();
  } catch {
    return { ok: false, reason: "identity_failed", detail: "channels lookup failed" };
  }
  const channel = (body as { items?: { id?: unknown; snippet?: { title?: unknown } }[] } | null)?.items?.[0];
  if (typeof channel?.id !== "string") return { ok: false, reason: "identity_failed", detail: "the account has no YouTube channel" };
  const title = channel.snippet?.title;
  return { ok: true, account: { id: channel.id, ...(typeof title === "string" ? { name: title } : {}) } };
}
