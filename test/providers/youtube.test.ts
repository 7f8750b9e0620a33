import { describe, expect, it } from "vitest";
import { mockProvider } from "../support/toolkit";
import { configuredProvider, connect, providerWithBindings, tokensOf } from "./support";

const youtube = () => configuredProvider("youtube");

/** YouTube uses Google's OAuth client in the test bindings (no YOUTUBE_CLIENT_ID). */
const GOOGLE_CLIENT_ID = "google-client-id.apps.googleusercontent.com";

describe("YouTube identity", () => {
  it("identifies the connection by the channel the token acts for", async () => {
    const channel = { id: "UCchannel123", title: "Cooking with Ava" };
    const { request, result } = await connect(youtube(), { mock_account: JSON.stringify({ channel }) });
    const identity = await youtube().identify(tokensOf(result), request.nonce, new Date());
    expect(identity).toMatchObject({ ok: true, account: { id: "UCchannel123", name: "Cooking with Ava" } });
  });

  it("fails identity when the Google account has no channel", async () => {
    const { request, result } = await connect(youtube(), { mock_account: JSON.stringify({ channel: null }) });
    const identity = await youtube().identify(tokensOf(result), request.nonce, new Date());
    expect(identity).toMatchObject({ ok: false, reason: "identity_failed" });
  });

  it("fails identity when the channels lookup refuses the access token", async () => {
    const { request, result } = await connect(youtube());
    const tokens = { ...tokensOf(result), accessToken: "not-a-live-token" };
    expect(await youtube().identify(tokens, request.nonce, new Date())).toMatchObject({ ok: false, reason: "identity_failed" });
  });
});

describe("the Google account behind a YouTube connection", () => {
  it("names the grant by the OAuth client and the verified id_token's sub, while the account stays the channel", async () => {
    const sub = `sub-${crypto.randomUUID()}`;
    const channel = { id: "UCgrant", title: "Grant Channel" };
    const { request, result } = await connect(youtube(), { mock_account: JSON.stringify({ sub, channel }) });
    expect(await youtube().identify(tokensOf(result), request.nonce, new Date())).toEqual({
      ok: true,
      account: { id: "UCgrant", name: "Grant Channel" },
      grantKey: `${GOOGLE_CLIENT_ID}:${sub}`,
    });
  });

  it.each(["wrong_nonce", "wrong_aud", "wrong_iss", "bad_signature", "expired", "alg_none"])(
    "is refused as invalid_id_token when the id_token has %s, as for Google",
    async (tamper) => {
      const { request, result } = await connect(youtube(), { mock_id_token: tamper });
      expect(await youtube().identify(tokensOf(result), request.nonce, new Date())).toMatchObject({
        ok: false,
        reason: "invalid_id_token",
      });
    },
  );

  it("cannot be identified from a token response without an id_token", async () => {
    const { request, result } = await connect(youtube(), { mock_scope: "https://www.googleapis.com/auth/youtube.readonly" });
    expect(await youtube().identify(tokensOf(result), request.nonce, new Date())).toMatchObject({ ok: false, reason: "identity_failed" });
  });
});

describe("YouTube scopes", () => {
  it("keeps the granted YouTube scopes as full URLs", async () => {
    const upload = "https://www.googleapis.com/auth/youtube.upload";
    const { result } = await connect(youtube(), { mock_scope: upload });
    expect(youtube().normalizeScopes((tokensOf(result).scope ?? "").split(" "))).toEqual([upload]);
  });
});

describe("YouTube refresh and revocation", () => {
  it("refreshes without rotating the refresh token, as Google does", async () => {
    const tokens = tokensOf((await connect(youtube())).result);
    const refreshed = tokensOf(await youtube().refresh(tokens.refreshToken ?? ""));
    expect(refreshed.refreshToken).toBeNull();
    expect(refreshed.accessToken).not.toBe(tokens.accessToken);
  });

  it("revoking the refresh token ends the grant", async () => {
    const tokens = tokensOf((await connect(youtube())).result);
    expect(await youtube().revoke(tokens.refreshToken ?? "", "refresh_token")).toEqual({ kind: "revoked" });
    expect(await youtube().refresh(tokens.refreshToken ?? "")).toMatchObject({ ok: false, failure: { error: "invalid_grant" } });
  });
});

describe("YouTube channels lookup", () => {
  it("names the configured Google issuer for the callback's optional iss check", async () => {
    expect(await youtube().issuer()).toEqual({ issuer: expect.stringMatching(/\/google$/), requiresIssParameter: false });
  });

  it("fails identity when the channels lookup loses its connection", async () => {
    const provider = providerWithBindings("youtube", { YOUTUBE_USERINFO_URL: mockProvider.respondUrl({ drop: "1" }) });
    const { request, result } = await connect(provider);
    const identity = await provider.identify(tokensOf(result), request.nonce, new Date());
    expect(identity).toEqual({ ok: false, reason: "identity_failed", detail: "channels lookup failed" });
  });

  it("fails identity when the channels lookup answers something that is not JSON", async () => {
    const provider = providerWithBindings("youtube", {
      YOUTUBE_USERINFO_URL: mockProvider.respondUrl({ body: "<html>oops</html>", content_type: "text/html" }),
    });
    const { request, result } = await connect(provider);
    const identity = await provider.identify(tokensOf(result), request.nonce, new Date());
    expect(identity).toEqual({ ok: false, reason: "identity_failed", detail: "channels lookup failed" });
  });

  it("identifies a channel that has no title by its id alone", async () => {
    const provider = providerWithBindings("youtube", {
      YOUTUBE_USERINFO_URL: mockProvider.respondUrl({ body: JSON.stringify({ items: [{ id: "UCuntitled" }] }) }),
    });
    const { request, result } = await connect(provider);
    const identity = await provider.identify(tokensOf(result), request.nonce, new Date());
    expect(identity).toMatchObject({ ok: true, account: { id: "UCuntitled" } });
  });
});
