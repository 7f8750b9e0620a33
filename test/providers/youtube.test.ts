import { describe, expect, it } from "vitest";
import { configuredProvider, connect, tokensOf } from "./support";

const youtube = () => configuredProvider("youtube");

describe("YouTube identity", () => {
  it("identifies the connection by the channel the token acts for", async () => {
    const channel = { id: "UCchannel123", title: "Cooking with Ava" };
    const { request, result } = await connect(youtube(), { mock_account: JSON.stringify({ channel }) });
    const identity = await youtube().identify(tokensOf(result), request.nonce, new Date());
    expect(identity).toEqual({ ok: true, account: { id: "UCchannel123", name: "Cooking with Ava" } });
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

describe("YouTube scopes", () => {
  it("keeps the granted YouTube scopes as full URLs", async () => {
    const upload = "https://www.googleapis.com/auth/youtube.upload";
    const { result } = await connect(youtube(), { mock_scope: upload });
    expect(youtube().normalizeScopes((tokensOf(result).scope ?? "").split(" "))).toEqual([upload]);
  });
});
