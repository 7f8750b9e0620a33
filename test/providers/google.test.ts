import { describe, expect, it } from "vitest";
import { generateCodeVerifier } from "../../src/providers/secrets";
import { newMockId } from "../support/mock-control";
import { mockProvider } from "../support/toolkit";
import { authorizationRequest, authorizeAtMock, configuredProvider, connect, providerWithBindings, tokensOf } from "./support";

const google = () => configuredProvider("google");
const CALENDAR = "https://www.googleapis.com/auth/calendar.events";

describe("Google code exchange", () => {
  it("returns tokens, the granted scopes and an id_token", async () => {
    const { result } = await connect(google(), { mock_scope: `openid email ${CALENDAR}` });
    const tokens = tokensOf(result);
    expect(tokens).toMatchObject({ expiresIn: 3599, refreshToken: expect.stringMatching(/^1\/\//) });
    expect(google().normalizeScopes((tokens.scope ?? "").split(" "))).toEqual(["email", CALENDAR, "openid"]);
    expect(tokens.idToken).toEqual(expect.any(String));
  });

  it("sends the PKCE verifier and redirect URI in a form body with Basic client authentication", async () => {
    const flow = newMockId("google-exchange");
    const { request } = await connect(google(), { mock_flow: flow });
    const exchange = (await mockProvider.requests({ flow, path: "/google/token" }))[0];
    expect(Object.fromEntries(new URLSearchParams(exchange?.body))).toMatchObject({
      grant_type: "authorization_code",
      code_verifier: request.codeVerifier,
      redirect_uri: request.redirectUri,
    });
    expect(exchange?.headers.authorization).toMatch(/^Basic /);
  });

  it("refuses a code redeemed with another PKCE verifier as invalid_grant", async () => {
    const provider = google();
    const request = authorizationRequest(provider);
    const callback = await authorizeAtMock(await provider.authorizationUrl(request));
    const result = await provider.exchangeCode(callback.searchParams.get("code") ?? "", generateCodeVerifier(), request.redirectUri);
    expect(result).toMatchObject({ ok: false, failure: { kind: "oauth_error", status: 400, error: "invalid_grant" } });
  });

  it("refuses a code redeemed twice as invalid_grant", async () => {
    const provider = google();
    const { request, callback } = await connect(provider);
    const again = await provider.exchangeCode(callback.searchParams.get("code") ?? "", request.codeVerifier, request.redirectUri);
    expect(again).toMatchObject({ ok: false, failure: { error: "invalid_grant" } });
  });

  it("reports a revoked grant as invalid_grant 400", async () => {
    const { result } = await connect(google(), { mock_token_failure: "invalid_grant" });
    expect(result).toMatchObject({ ok: false, failure: { kind: "oauth_error", status: 400, error: "invalid_grant" } });
  });

  it("reports a deleted client as invalid_client 401", async () => {
    const { result } = await connect(google(), { mock_token_failure: "invalid_client" });
    expect(result).toMatchObject({ ok: false, failure: { kind: "oauth_error", status: 401, error: "invalid_client" } });
  });

  it("reports a throttling HTML page without Retry-After as http_error", async () => {
    const { result } = await connect(google(), { mock_token_failure: "server_error_html", mock_token_status: "403" });
    expect(result).toMatchObject({ ok: false, failure: { kind: "http_error", status: 403, retryAfterSeconds: null } });
  });
});

describe("Google refresh and revocation", () => {
  it("refreshes without rotating the refresh token", async () => {
    const tokens = tokensOf((await connect(google())).result);
    const refreshed = tokensOf(await google().refresh(tokens.refreshToken ?? ""));
    expect(refreshed.refreshToken).toBeNull();
    expect(refreshed.accessToken).not.toBe(tokens.accessToken);
  });

  it("revoking the refresh token ends the grant", async () => {
    const tokens = tokensOf((await connect(google())).result);
    expect(await google().revoke(tokens.refreshToken ?? "", "refresh_token")).toEqual({ kind: "revoked" });
    expect(await google().refresh(tokens.refreshToken ?? "")).toMatchObject({ ok: false, failure: { error: "invalid_grant" } });
  });
});

describe("Google identity", () => {
  it("identifies the account by the verified id_token's sub, with its verified email", async () => {
    const { request, result } = await connect(google(), { mock_account: JSON.stringify({ sub: "g-123", email: "x@example.com" }) });
    const identity = await google().identify(tokensOf(result), request.nonce, new Date());
    expect(identity).toEqual({
      ok: true,
      account: { id: "g-123", email: "x@example.com", name: "Ava Example" },
      grantKey: "google-client-id.apps.googleusercontent.com:g-123",
    });
  });

  it("does not keep an unverified email", async () => {
    const { request, result } = await connect(google(), { mock_account: JSON.stringify({ email_verified: false }) });
    const identity = await google().identify(tokensOf(result), request.nonce, new Date());
    expect(identity.ok && identity.account.email).toBeUndefined();
  });

  it("fails identity when openid was not granted and no id_token came back", async () => {
    const { request, result } = await connect(google(), { mock_scope: CALENDAR });
    expect(await google().identify(tokensOf(result), request.nonce, new Date())).toMatchObject({ ok: false, reason: "identity_failed" });
  });

  it("names the configured issuer for the callback's optional iss check", async () => {
    expect(await google().issuer()).toEqual({ issuer: expect.stringMatching(/\/google$/), requiresIssParameter: false });
  });
});

describe("Google scopes and identity details", () => {
  it("counts a grant answered as userinfo.email and userinfo.profile URLs as email and profile", async () => {
    const granted = "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile";
    const { result } = await connect(google(), { mock_scope: granted });
    expect(google().normalizeScopes((tokensOf(result).scope ?? "").split(" "))).toEqual(["email", "openid", "profile"]);
  });

  it("identifies an account whose id_token has no name without one", async () => {
    const { request, result } = await connect(google(), { mock_account: JSON.stringify({ sub: "g-noname", name: null }) });
    const identity = await google().identify(tokensOf(result), request.nonce, new Date());
    expect(identity).toMatchObject({ ok: true, account: { id: "g-noname", email: "ava@example.com" } });
    expect(identity.ok && identity.account.name).toBeUndefined();
  });

  it("fails identity as identity_failed, not as a forged token, when the key set fetch loses its connection", async () => {
    const provider = providerWithBindings("google", { GOOGLE_JWKS_URL: mockProvider.respondUrl({ drop: "1" }) });
    const { request, result } = await connect(provider);
    expect(await provider.identify(tokensOf(result), request.nonce, new Date())).toEqual({
      ok: false,
      reason: "identity_failed",
      detail: "signing keys unavailable",
    });
  });
});
