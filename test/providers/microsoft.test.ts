import { describe, expect, inject, it } from "vitest";
import { parseConfig } from "../../src/config";
import { CONSUMER_TENANT_ID, createMicrosoftProvider, isTenantAllowed } from "../../src/providers/microsoft";
import { testBindings } from "../support/bindings";
import { newMockId } from "../support/mock-control";
import { mockProvider } from "../support/toolkit";
import { configuredProvider, connect, mockOrigin, tokensOf } from "./support";

const microsoft = () => configuredProvider("microsoft");
const WORK_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/** The test configuration with another MICROSOFT_TENANT. */
function microsoftForTenant(tenant: string) {
  const bindings = testBindings({ mockProviderOrigin: mockOrigin(), oidcIssuer: inject("oidcIssuer") });
  return createMicrosoftProvider(parseConfig({ ...bindings, MICROSOFT_TENANT: tenant }).providers.microsoft);
}

describe("Microsoft code exchange", () => {
  it("normalises Graph scopes to their short names and counts offline_access when a refresh token came back", async () => {
    const { result } = await connect(microsoft(), { mock_scope: "openid profile email offline_access User.Read mail.read" });
    const tokens = tokensOf(result);
    expect(tokens.scope).toContain("https://graph.microsoft.com/User.Read");
    expect(microsoft().normalizeScopes((tokens.scope ?? "").split(" "))).toEqual([
      "Mail.Read",
      "User.Read",
      "email",
      "offline_access",
      "openid",
      "profile",
    ]);
  });

  it("keeps Microsoft's error body: error and the AADSTS description", async () => {
    const { result } = await connect(microsoft(), { mock_token_failure: "invalid_grant" });
    expect(result).toMatchObject({
      ok: false,
      failure: { kind: "oauth_error", status: 400, error: "invalid_grant", description: expect.stringMatching(/^AADSTS70008:/) },
    });
  });

  it("reports an expired client secret as invalid_client", async () => {
    const { result } = await connect(microsoft(), { mock_token_failure: "invalid_client" });
    expect(result).toMatchObject({ ok: false, failure: { status: 401, error: "invalid_client" } });
  });

  it("returns a new refresh token on every refresh", async () => {
    const tokens = tokensOf((await connect(microsoft())).result);
    const refreshed = tokensOf(await microsoft().refresh(tokens.refreshToken ?? ""));
    expect(refreshed.refreshToken).toEqual(expect.any(String));
    expect(refreshed.refreshToken).not.toBe(tokens.refreshToken);
  });

  it("answers a revocation as unsupported without calling Microsoft", async () => {
    const flow = newMockId("microsoft-revoke");
    const tokens = tokensOf((await connect(microsoft(), { mock_flow: flow })).result);
    const requestsBefore = (await mockProvider.requests({ flow })).length;
    expect(await microsoft().revoke(tokens.refreshToken ?? "", "refresh_token")).toEqual({ kind: "unsupported" });
    expect(await mockProvider.requests({ flow })).toHaveLength(requestsBefore);
  });
});

describe("Microsoft identity", () => {
  it("identifies the account as tid:oid from the verified id_token", async () => {
    const account = { tid: WORK_TENANT, oid: "0a1b2c3d-0000-4000-8000-000000000001", name: "Ava" };
    const { request, result } = await connect(microsoft(), { mock_account: JSON.stringify(account) });
    const identity = await microsoft().identify(tokensOf(result), request.nonce, new Date());
    expect(identity).toMatchObject({ ok: true, account: { id: `${WORK_TENANT}:0a1b2c3d-0000-4000-8000-000000000001`, name: "Ava" } });
  });

  it("refuses a work account when the app is configured for consumers", async () => {
    const provider = microsoftForTenant("consumers");
    const { request, result } = await connect(provider, { mock_account: JSON.stringify({ tid: WORK_TENANT }) });
    expect(await provider.identify(tokensOf(result), request.nonce, new Date())).toMatchObject({ ok: false, reason: "invalid_id_token" });
  });

  it("accepts a personal account when the app is configured for consumers", async () => {
    const provider = microsoftForTenant("consumers");
    const { request, result } = await connect(provider, { mock_account: JSON.stringify({ tid: CONSUMER_TENANT_ID }) });
    expect(await provider.identify(tokensOf(result), request.nonce, new Date())).toMatchObject({ ok: true });
  });

  it("refuses another tenant when the app is configured for one tenant id", async () => {
    const provider = microsoftForTenant("11111111-0000-4000-8000-000000000000");
    const { request, result } = await connect(provider, { mock_account: JSON.stringify({ tid: WORK_TENANT }) });
    expect(await provider.identify(tokensOf(result), request.nonce, new Date())).toMatchObject({ ok: false, reason: "invalid_id_token" });
  });
});

describe("Microsoft account email", () => {
  /** Signs in a work account with `email` and the given `xms_edov` claim (`undefined`: the claim is absent). */
  const identifyWithEmail = async (xmsEdov: unknown) => {
    const account = { tid: WORK_TENANT, oid: crypto.randomUUID(), email: "ava@contoso.com", name: "Ava", xms_edov: xmsEdov };
    const { request, result } = await connect(microsoft(), { mock_account: JSON.stringify(account) });
    return microsoft().identify(tokensOf(result), request.nonce, new Date());
  };

  it("keeps the email when the id_token says the email domain's owner verified it (xms_edov true)", async () => {
    expect(await identifyWithEmail(true)).toMatchObject({ ok: true, account: { email: "ava@contoso.com", name: "Ava" } });
  });

  it.each([
    ["absent", undefined],
    ["false", false],
    ["a string rather than the documented boolean", "1"],
  ])("keeps the name but not the email when xms_edov is %s", async (_case, xmsEdov) => {
    const identity = await identifyWithEmail(xmsEdov);
    expect(identity).toMatchObject({ ok: true, account: { name: "Ava" } });
    expect(identity.ok && identity.account.email).toBeUndefined();
  });
});

describe("Microsoft tenant rules", () => {
  it("lets common accept any tenant", () => {
    expect(isTenantAllowed("common", CONSUMER_TENANT_ID) && isTenantAllowed("common", WORK_TENANT)).toBe(true);
  });

  it("lets organizations refuse personal accounts", () => {
    expect([isTenantAllowed("organizations", CONSUMER_TENANT_ID), isTenantAllowed("organizations", WORK_TENANT)]).toEqual([false, true]);
  });

  it("compares a tenant id without regard to case", () => {
    expect(isTenantAllowed(WORK_TENANT.toUpperCase(), WORK_TENANT)).toBe(true);
  });
});

describe("Microsoft identity refusals", () => {
  const identifyWith = async (mock: Record<string, string>) => {
    const { request, result } = await connect(microsoft(), mock);
    return microsoft().identify(tokensOf(result), request.nonce, new Date());
  };

  it("fails identity when openid was not granted and no id_token came back", async () => {
    expect(await identifyWith({ mock_scope: "offline_access User.Read" })).toMatchObject({ ok: false, reason: "identity_failed" });
  });

  it("refuses an id_token whose tid is not a tenant GUID", async () => {
    expect(await identifyWith({ mock_account: JSON.stringify({ tid: "contoso.onmicrosoft.com" }) })).toEqual({
      ok: false,
      reason: "invalid_id_token",
      detail: "id_token has no valid tid",
    });
  });

  it("refuses an id_token that cannot be decoded", async () => {
    const tokens = { ...tokensOf((await connect(microsoft())).result), idToken: "not-a-jwt" };
    expect(await microsoft().identify(tokens, "nonce", new Date())).toMatchObject({ ok: false, reason: "invalid_id_token" });
  });

  it("refuses an id_token minted for another sign-in (nonce mismatch)", async () => {
    expect(await identifyWith({ mock_id_token: "wrong_nonce" })).toMatchObject({ ok: false, reason: "invalid_id_token" });
  });

  it("fails identity when the id_token has no oid", async () => {
    expect(await identifyWith({ mock_account: JSON.stringify({ oid: "" }) })).toEqual({
      ok: false,
      reason: "identity_failed",
      detail: "id_token has no oid",
    });
  });

  it("identifies an account without email or name by tid:oid alone", async () => {
    const account = { tid: WORK_TENANT, oid: "0a1b2c3d-0000-4000-8000-000000000002", email: null, name: null };
    expect(await identifyWith({ mock_account: JSON.stringify(account) })).toEqual({
      ok: true,
      account: { id: `${WORK_TENANT}:0a1b2c3d-0000-4000-8000-000000000002` },
    });
  });
});

describe("Microsoft scopes", () => {
  it("keeps a granted Graph scope outside the allow-list in the spelling Microsoft sent", () => {
    expect(microsoft().normalizeScopes(["https://graph.microsoft.com/Tasks.ReadWrite", "openid"])).toEqual(["Tasks.ReadWrite", "openid"]);
  });
});

describe("Microsoft refresh without scope", () => {
  it("a refresh answered with a refresh token but no scope still counts offline_access as granted", async () => {
    const flow = newMockId("microsoft-no-scope");
    const tokens = tokensOf((await connect(microsoft(), { mock_flow: flow })).result);
    await mockProvider.scriptResponses(flow, "token", [{ omit_scope: true }]);
    const refreshed = tokensOf(await microsoft().refresh(tokens.refreshToken ?? ""));
    expect(refreshed).toMatchObject({ refreshToken: expect.any(String), scope: "offline_access" });
  });
});
