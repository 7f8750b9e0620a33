/**
 * The runtime-neutral toolkit (api-client, connect-flow, problems, mock-control, oidc-control) that the end-to-end
 * suite and the bench use over the network, here in workerd over the Worker's own fetch handler (./toolkit.ts).
 */
import { describe, expect, inject, it } from "vitest";
import { LOCAL_OIDC_ID } from "./bindings";
import { Browser } from "./browser";
import { authHeaders } from "./caller-token";
import { connectAccount } from "./connect-flow";
import { newMockId } from "./mock-control";
import { newOidcAccount } from "./oidc-control";
import { expectProblem } from "./problems";
import { localOidc as oidc, mockProvider as mock, service } from "./toolkit";
import { newUserId } from "./users";

/** Connects `provider` for a new user through the browser flow; `providerParams` steer the provider. */
async function connect(
  label: string,
  provider: string,
  providerParams: Record<string, string>,
): Promise<{ userId: string; connectionId: string }> {
  const userId = newUserId(label);
  const callback = await connectAccount(service, new Browser(), userId, provider, { providerParams });
  const text = await callback.text();
  expect(callback.status, text).toBe(200);
  return { userId, connectionId: (JSON.parse(text) as { connection: { id: string } }).connection.id };
}

describe("the API client and the connect flow over the Worker's fetch", () => {
  it("a mock Google account connected through the browser reads back, and vending returns the token the mock issued", async () => {
    const flow = newMockId("toolkit");
    const { userId, connectionId } = await connect("toolkit-google", "google", { mock_flow: flow });

    expect(await service.connection(userId, connectionId)).toMatchObject({ id: connectionId, provider: "google", status: "active" });
    const { access_tokens } = await mock.flowState(flow);
    expect((await service.vendOk(userId, connectionId)).access_token).toBe(access_tokens[0]!.token);
    expect(await mock.refreshGrants(flow)).toEqual([]);
  });

  it("a scripted refresh failure reaches the caller, and the mock lists the refresh token it was sent", async () => {
    const flow = newMockId("toolkit");
    const { userId, connectionId } = await connect("toolkit-script", "google", { mock_flow: flow });
    await mock.scriptTokenResponses(flow, [{ failure: "invalid_grant" }]);

    await expectProblem(await service.vend(userId, connectionId, { force_refresh: true }), 409, "needs-reauth");
    const [refreshToken] = (await mock.flowState(flow)).refresh_tokens;
    expect(await mock.refreshGrants(flow)).toEqual([refreshToken!.token]);
  });

  it("a caller signed beforehand is sent as is: a forged token answers 401, a signed one lists the user's connections", async () => {
    await expectProblem(await service.call({ Authorization: "Bearer not-a-jwt" }, "/v1/connections"), 401, "unauthorized");
    const signed = await authHeaders(newUserId("toolkit-signed"));
    expect(await service.json(signed, "/v1/connections")).toEqual({ connections: [] });
  });

  it("the local oidc-provider records the code exchange and honours the vended token until it is revoked", async () => {
    const account = newOidcAccount();
    const { userId, connectionId } = await connect("toolkit-oidc", LOCAL_OIDC_ID, { login_hint: account });

    expect((await oidc.events(account)).counts.authorization_code).toBe(1);
    const { access_token } = await service.vendOk(userId, connectionId, { min_validity_seconds: 0 });
    expect(await oidc.userinfoStatus(access_token)).toBe(200);
    await oidc.revoke(access_token, "access_token");
    expect(await oidc.userinfoStatus(access_token)).toBe(401);
  });

  it("an access token the mock ended early is refused by its userinfo, and rejected_token refreshes with the living grant", async () => {
    const flow = newMockId("toolkit");
    const { userId, connectionId } = await connect("toolkit-expire", "google", { mock_flow: flow });
    const userinfo = (token: string) =>
      fetch(`${inject("mockProviderOrigin")}/google/userinfo`, { headers: { Authorization: `Bearer ${token}` } });
    const { access_token: ended } = await service.vendOk(userId, connectionId);

    await mock.expireAccessToken(flow, ended);

    expect((await userinfo(ended)).status).toBe(401);
    const { access_token: fresh } = await service.vendOk(userId, connectionId, { rejected_token: ended });
    expect(fresh).not.toBe(ended);
    expect((await userinfo(fresh)).status).toBe(200);
    expect(await mock.refreshGrants(flow)).toHaveLength(1);
  });
});

describe("expectProblem", () => {
  it("returns the body of the problem it expects, and fails on another problem type", async () => {
    const userId = newUserId("toolkit-problem");
    const problem = await expectProblem(await service.vend(userId, "conn_missing"), 404, "not-found");
    expect(problem).toMatchObject({ status: 404, title: "Not found" });
    await expect(expectProblem(await service.vend(userId, "conn_missing"), 404, "forbidden")).rejects.toThrow();
  });
});
