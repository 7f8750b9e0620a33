import { describe, expect, it } from "vitest";
import { newMockId } from "../support/mock-control";
import { mockProvider } from "../support/toolkit";
import { configuredProvider, connect, tokensOf } from "./support";

const notion = () => configuredProvider("notion");

describe("Notion code exchange", () => {
  it("posts JSON with Basic authentication, Notion-Version and the redirect URI", async () => {
    const flow = newMockId("notion-exchange");
    const { request } = await connect(notion(), { mock_flow: flow });
    const exchange = (await mockProvider.requests({ flow, path: "/notion/v1/oauth/token" }))[0];
    expect(exchange?.headers).toMatchObject({ "content-type": "application/json", "notion-version": "2026-03-11" });
    expect(atob((exchange?.headers.authorization ?? "").replace("Basic ", ""))).toBe("notion-client-id:notion-client-secret");
    expect(JSON.parse(exchange?.body ?? "")).toEqual({
      grant_type: "authorization_code",
      code: expect.any(String),
      redirect_uri: request.redirectUri,
    });
  });

  it("returns tokens without expiry or scope", async () => {
    const tokens = tokensOf((await connect(notion())).result);
    expect(tokens).toMatchObject({ accessToken: expect.stringMatching(/^ntn_/), expiresIn: null, scope: null, idToken: null });
  });

  it("reports a bad code as Notion's bare invalid_grant", async () => {
    const { result } = await connect(notion(), { mock_token_failure: "invalid_grant" });
    expect(result).toMatchObject({ ok: false, failure: { kind: "oauth_error", status: 400, error: "invalid_grant", description: null } });
  });

  it("reports a wrong client as invalid_client 401", async () => {
    const { result } = await connect(notion(), { mock_token_failure: "invalid_client" });
    expect(result).toMatchObject({ ok: false, failure: { kind: "oauth_error", status: 401, error: "invalid_client" } });
  });

  it("reports Notion's rate limit as http_error with Retry-After", async () => {
    const { result } = await connect(notion(), { mock_token_failure: "rate_limited", mock_retry_after: "12" });
    expect(result).toMatchObject({ ok: false, failure: { kind: "http_error", status: 429, retryAfterSeconds: 12 } });
  });
});

describe("Notion identity", () => {
  it("identifies the person in the workspace from the token response", async () => {
    const account = { workspace_id: "ws-1", user_id: "user-1", name: "Ava", email: "ava@example.com" };
    const { request, result } = await connect(notion(), { mock_account: JSON.stringify(account) });
    const identity = await notion().identify(tokensOf(result), request.nonce, new Date());
    expect(identity).toEqual({ ok: true, account: { id: "ws-1:user-1", name: "Ava", email: "ava@example.com" } });
  });

  it("identifies a legacy workspace-owned token by the workspace", async () => {
    const account = { owner: "workspace", workspace_id: "ws-2", workspace_name: "Acme" };
    const { request, result } = await connect(notion(), { mock_account: JSON.stringify(account) });
    const identity = await notion().identify(tokensOf(result), request.nonce, new Date());
    expect(identity).toEqual({ ok: true, account: { id: "ws-2:workspace", name: "Acme" } });
  });
});

describe("Notion refresh and revocation", () => {
  it("rotates the refresh token and the old one dies", async () => {
    const tokens = tokensOf((await connect(notion())).result);
    const refreshed = tokensOf(await notion().refresh(tokens.refreshToken ?? ""));
    expect(refreshed.refreshToken).not.toBe(tokens.refreshToken);
    expect(await notion().refresh(tokens.refreshToken ?? "")).toMatchObject({ ok: false, failure: { error: "invalid_grant" } });
  });

  it("revokes with a JSON token body", async () => {
    const flow = newMockId("notion-revoke");
    const tokens = tokensOf((await connect(notion(), { mock_flow: flow })).result);
    expect(await notion().revoke(tokens.accessToken, "access_token")).toEqual({ kind: "revoked" });
    const revocation = (await mockProvider.requests({ flow, path: "/notion/v1/oauth/revoke" }))[0];
    expect(JSON.parse(revocation?.body ?? "")).toEqual({ token: tokens.accessToken });
  });
});

describe("Notion identity refusals and partial owners", () => {
  const identifyWith = async (account: object) => {
    const { request, result } = await connect(notion(), { mock_account: JSON.stringify(account) });
    return notion().identify(tokensOf(result), request.nonce, new Date());
  };

  it("fails identity when the token response has no workspace_id", async () => {
    expect(await identifyWith({ workspace_id: "" })).toEqual({
      ok: false,
      reason: "identity_failed",
      detail: "token response has no workspace_id",
    });
  });

  it("fails identity when a user-owned token names no user", async () => {
    expect(await identifyWith({ workspace_id: "ws-3", user_id: "" })).toEqual({
      ok: false,
      reason: "identity_failed",
      detail: "token response has no owner user",
    });
  });

  it("fails identity when the owner is neither a user nor the workspace", async () => {
    expect(await identifyWith({ workspace_id: "ws-6", owner: "bot" })).toEqual({
      ok: false,
      reason: "identity_failed",
      detail: "token response has no owner user",
    });
  });

  it("identifies a person without email or name by workspace and user id alone", async () => {
    expect(await identifyWith({ workspace_id: "ws-4", user_id: "user-4", name: null, email: null })).toEqual({
      ok: true,
      account: { id: "ws-4:user-4" },
    });
  });

  it("identifies a legacy workspace token without a workspace name by the workspace id alone", async () => {
    expect(await identifyWith({ owner: "workspace", workspace_id: "ws-5", workspace_name: null })).toEqual({
      ok: true,
      account: { id: "ws-5:workspace" },
    });
  });
});
