import { describe, expect, it } from "vitest";
import { createGoogleProvider } from "../../src/providers/google";
import { createMicrosoftProvider } from "../../src/providers/microsoft";
import { createNotionProvider } from "../../src/providers/notion";
import type { Provider } from "../../src/providers/provider";
import { createYoutubeProvider } from "../../src/providers/youtube";
import { authorizationRequest, configuredProvider, mockOrigin } from "./support";

async function urlFor(id: string, overrides: Parameters<typeof authorizationRequest>[1] = {}) {
  const provider = configuredProvider(id);
  const request = authorizationRequest(provider, overrides);
  return { request, params: (await provider.authorizationUrl(request)).searchParams, provider };
}

describe("Google authorization URL", () => {
  it("asks for offline access, incremental auth, consent, a nonce and PKCE S256", async () => {
    const { request, params } = await urlFor("google");
    expect(Object.fromEntries(params)).toMatchObject({
      response_type: "code",
      client_id: "google-client-id.apps.googleusercontent.com",
      redirect_uri: request.redirectUri,
      state: request.state,
      scope: "openid email profile",
      access_type: "offline",
      include_granted_scopes: "true",
      prompt: "consent",
      nonce: request.nonce,
      code_challenge_method: "S256",
    });
    expect(params.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("does not force consent when a refresh token is already stored", async () => {
    const { params } = await urlFor("google", { hasRefreshToken: true });
    expect(params.has("prompt")).toBe(false);
  });

  it("always asks for openid, which identifies the account", async () => {
    const { params } = await urlFor("google", { scopes: ["https://www.googleapis.com/auth/calendar.readonly"] });
    expect(params.get("scope")).toBe("openid https://www.googleapis.com/auth/calendar.readonly");
  });

  it("uses the configured authorization endpoint", async () => {
    const provider = configuredProvider("google");
    const url = await provider.authorizationUrl(authorizationRequest(provider));
    expect(`${url.origin}${url.pathname}`).toBe(`${mockOrigin()}/google/authorize`);
  });
});

describe("YouTube authorization URL", () => {
  it("asks for the channel chooser with consent, the YouTube read-only scope, and openid with a nonce", async () => {
    const { request, params } = await urlFor("youtube", { hasRefreshToken: true });
    expect(Object.fromEntries(params)).toMatchObject({
      prompt: "consent select_account",
      scope: "openid https://www.googleapis.com/auth/youtube.readonly",
      nonce: request.nonce,
      access_type: "offline",
      code_challenge_method: "S256",
    });
  });
});

describe("Microsoft authorization URL", () => {
  it("always requests offline_access, with response_mode=query, a nonce and PKCE S256", async () => {
    const { request, params } = await urlFor("microsoft", { scopes: ["User.Read", "Mail.Read"] });
    expect(Object.fromEntries(params)).toMatchObject({
      client_id: "11111111-2222-3333-4444-555555555555",
      scope: "openid offline_access User.Read Mail.Read",
      response_mode: "query",
      nonce: request.nonce,
      code_challenge_method: "S256",
    });
  });
});

describe("Notion authorization URL", () => {
  it("has owner=user and the redirect URI, but no scope and no PKCE", async () => {
    const { request, params } = await urlFor("notion");
    expect(Object.fromEntries(params)).toEqual({
      response_type: "code",
      client_id: "notion-client-id",
      redirect_uri: request.redirectUri,
      state: request.state,
      owner: "user",
    });
  });
});

describe("Production endpoints (no endpoint overrides configured)", () => {
  const production = { credentials: { clientId: "prod-client", clientSecret: "prod-secret" }, endpoints: {}, upstreamTimeoutMs: 5_000 };
  const base = async (provider: Provider) => {
    const url = await provider.authorizationUrl(authorizationRequest(provider));
    return `${url.origin}${url.pathname}`;
  };

  it("Google sends users to accounts.google.com and expects Google's issuer on the callback", async () => {
    const google = createGoogleProvider(production);
    expect(await base(google)).toBe("https://accounts.google.com/o/oauth2/v2/auth");
    expect(await google.issuer()).toEqual({ issuer: "https://accounts.google.com", requiresIssParameter: false });
  });

  it("YouTube sends users to accounts.google.com and expects Google's issuer on the callback", async () => {
    const youtube = createYoutubeProvider(production);
    expect(await base(youtube)).toBe("https://accounts.google.com/o/oauth2/v2/auth");
    expect(await youtube.issuer()).toEqual({ issuer: "https://accounts.google.com", requiresIssParameter: false });
  });

  it("Microsoft sends users to the configured tenant's path at login.microsoftonline.com", async () => {
    const microsoft = createMicrosoftProvider({ ...production, tenant: "organizations" });
    expect(await base(microsoft)).toBe("https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize");
  });

  it("Notion sends users to api.notion.com", async () => {
    expect(await base(createNotionProvider(production))).toBe("https://api.notion.com/v1/oauth/authorize");
  });
});

describe("Authorization URL safeguards", () => {
  it("a PKCE provider refuses to build an authorization URL without a code verifier", async () => {
    const google = configuredProvider("google");
    await expect(google.authorizationUrl(authorizationRequest(google, { codeVerifier: null }))).rejects.toThrow(
      /PKCE code verifier is required/,
    );
  });

  it("a provider without credentials refuses to build an authorization URL", async () => {
    const notion = createNotionProvider({ credentials: null, endpoints: {}, upstreamTimeoutMs: 5_000 });
    await expect(notion.authorizationUrl(authorizationRequest(notion))).rejects.toThrow("provider notion is not configured");
  });
});
