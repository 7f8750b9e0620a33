import { describe, expect, it } from "vitest";
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
  it("asks for the channel chooser with consent and the YouTube read-only scope", async () => {
    const { params } = await urlFor("youtube", { hasRefreshToken: true });
    expect(Object.fromEntries(params)).toMatchObject({
      prompt: "consent select_account",
      scope: "https://www.googleapis.com/auth/youtube.readonly",
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
