import { describe, expect, it } from "vitest";
import type { OidcProviderConfig } from "../../src/config";
import { createOidcProvider } from "../../src/providers/oidc";
import type { Provider } from "../../src/providers/provider";
import { createDiscoveryCache, DISCOVERY_TTL_MS } from "../../src/providers/oidc-discovery";
import { captureLogs } from "../support/logs";
import { newMockId } from "../support/mock-control";
import { MOCK_OIDC_CLIENT } from "../support/mock-provider-server/clients";
import { mockProvider } from "../support/toolkit";
import { authorizationRequest, connect, mockOrigin, tokensOf } from "./support";

/** A provider for a fresh issuer key at the mock, so discovery caching and overrides are this test's own. */
async function oidcProvider(discoveryOverrides: Record<string, unknown> = {}, config: Partial<OidcProviderConfig> = {}) {
  const key = newMockId("issuer");
  const issuer = `${mockOrigin()}/oidc/${key}`;
  await mockProvider.overrideDiscovery(key, discoveryOverrides);
  const provider = createOidcProvider({
    id: "mock-oidc",
    name: "Mock OIDC",
    issuer,
    credentials: MOCK_OIDC_CLIENT,
    scopes: ["openid", "email", "offline_access"],
    defaultScopes: ["openid", "email"],
    authorizationParams: {},
    upstreamTimeoutMs: 2_000,
    integrations: [],
    ...config,
  });
  return { provider, issuer, key, discoveryPath: `/oidc/${key}/.well-known/openid-configuration` };
}

/** A provider for an issuer at the mock whose every discovery request answers 404 (the mock serves nothing there). */
function providerWithoutDiscovery() {
  return createOidcProvider({
    id: "gone-oidc",
    name: "Gone OIDC",
    issuer: `${mockOrigin()}/no-such-issuer/${newMockId("gone")}`,
    credentials: MOCK_OIDC_CLIENT,
    scopes: ["openid"],
    defaultScopes: ["openid"],
    authorizationParams: {},
    upstreamTimeoutMs: 2_000,
    integrations: [],
  });
}

describe("OIDC discovery", () => {
  it("takes the endpoints from the discovery document", async () => {
    const { provider, issuer } = await oidcProvider();
    const url = await provider.authorizationUrl(authorizationRequest(provider));
    expect(`${url.origin}${url.pathname}`).toBe(`${issuer}/authorize`);
  });

  it("refuses a document that names another issuer", async () => {
    const { provider } = await oidcProvider({ issuer: "https://evil.example.com" });
    await expect(provider.issuer()).rejects.toThrow(/different issuer/);
  });

  it("refuses a plain-http endpoint that is not loopback", async () => {
    const { provider } = await oidcProvider({ token_endpoint: "http://tokens.example.com/token" });
    await expect(provider.authorizationUrl(authorizationRequest(provider))).rejects.toThrow(/token_endpoint/);
  });

  it("fetches the document once and then serves it from the cache", async () => {
    const { provider, discoveryPath } = await oidcProvider();
    await provider.issuer();
    await provider.authorizationUrl(authorizationRequest(provider));
    expect(await mockProvider.requests({ path: discoveryPath })).toHaveLength(1);
  });

  it("fetches the document again once the cache entry is older than its TTL", async () => {
    const { issuer, discoveryPath } = await oidcProvider();
    let now = 0;
    const discover = createDiscoveryCache(issuer, () => now);
    await discover();
    now = DISCOVERY_TTL_MS + 1;
    await discover();
    expect(await mockProvider.requests({ path: discoveryPath })).toHaveLength(2);
  });

  it("does not make a later request wait for a discovery fetch another request started and that never answers", async () => {
    const { provider, issuer, key, discoveryPath } = await oidcProvider();
    await mockProvider.scriptIssuer(key, "discovery", [{ hold: true, status: 503 }]);
    const settled: string[] = [];
    const first = provider.issuer().then(
      () => settled.push("first"),
      () => settled.push("first failed"),
    );
    await mockProvider.untilReceived(discoveryPath);

    expect(await provider.issuer()).toEqual({ issuer, requiresIssParameter: true });
    settled.push("second");
    await mockProvider.releaseHeldRequests(key);
    await first;
    expect(settled).toEqual(["second", "first failed"]);
  });

  it("requires the iss callback parameter when the server advertises it", async () => {
    const { provider, issuer } = await oidcProvider();
    expect(await provider.issuer()).toEqual({ issuer, requiresIssParameter: true });
  });
});

describe("OIDC authorization URL", () => {
  it("forces consent when offline_access is requested and no refresh token is stored", async () => {
    const { provider } = await oidcProvider();
    const url = await provider.authorizationUrl(authorizationRequest(provider, { scopes: ["openid", "offline_access"] }));
    expect(url.searchParams.get("prompt")).toBe("consent");
  });

  it("adds the operator's authorization parameters without replacing ours", async () => {
    const { provider } = await oidcProvider({}, { authorizationParams: { audience: "api", state: "forged" } });
    const request = authorizationRequest(provider);
    const url = await provider.authorizationUrl(request);
    expect([url.searchParams.get("audience"), url.searchParams.get("state")]).toEqual(["api", request.state]);
  });
});

describe("OIDC tokens and identity", () => {
  it("identifies the account by the verified id_token's sub", async () => {
    const { provider } = await oidcProvider();
    const { request, result } = await connect(provider, { mock_account: JSON.stringify({ sub: "oidc-user-1" }) });
    expect(await provider.identify(tokensOf(result), request.nonce, new Date())).toMatchObject({
      ok: true,
      account: { id: "oidc-user-1" },
    });
  });

  it("accepts an ES256 id_token when the document advertises ES256", async () => {
    const { provider } = await oidcProvider({ id_token_signing_alg_values_supported: ["RS256", "ES256"] });
    const { request, result } = await connect(provider, { mock_id_token: "es256" });
    expect(await provider.identify(tokensOf(result), request.nonce, new Date())).toMatchObject({ ok: true });
  });

  it("refuses an ES256 id_token when the document only advertises RS256", async () => {
    const { provider } = await oidcProvider();
    const { request, result } = await connect(provider, { mock_id_token: "es256" });
    expect(await provider.identify(tokensOf(result), request.nonce, new Date())).toMatchObject({ ok: false, reason: "invalid_id_token" });
  });

  it("does not make a later id_token check wait for a key set fetch another request started and that never answers", async () => {
    const { provider, key } = await oidcProvider();
    const [held, later] = [await connect(provider), await connect(provider)];
    await mockProvider.scriptIssuer(key, "jwks", [{ hold: true, status: 503 }]);
    const first = provider.identify(tokensOf(held.result), held.request.nonce, new Date());
    await mockProvider.untilReceived(`/oidc/${key}/jwks`);

    expect(await provider.identify(tokensOf(later.result), later.request.nonce, new Date())).toMatchObject({ ok: true });
    await mockProvider.releaseHeldRequests(key);
    expect(await first).toEqual({ ok: false, reason: "identity_failed", detail: "signing keys unavailable" });
  });

  it("authenticates in the body when the server only supports client_secret_post", async () => {
    const { provider } = await oidcProvider({ token_endpoint_auth_methods_supported: ["client_secret_post"] });
    const flow = newMockId("oidc-post");
    await connect(provider, { mock_flow: flow });
    const exchange = (await mockProvider.requests({ flow })).find((entry) => entry.path.endsWith("/token"));
    expect(new URLSearchParams(exchange?.body).get("client_secret")).toBe(MOCK_OIDC_CLIENT.clientSecret);
  });

  it("revokes through the advertised revocation endpoint", async () => {
    const { provider } = await oidcProvider();
    const flow = newMockId("oidc-revoke");
    const tokens = tokensOf((await connect(provider, { mock_flow: flow }, { scopes: ["openid", "offline_access"] })).result);
    expect(await provider.revoke(tokens.refreshToken ?? "", "refresh_token")).toEqual({ kind: "revoked" });
    expect((await mockProvider.requests({ flow })).some((entry) => entry.path.endsWith("/revoke"))).toBe(true);
  });
});

describe("OIDC scopes", () => {
  it("keeps granted scopes as sent, without blanks or duplicates, in a stable order", async () => {
    const { provider } = await oidcProvider();
    expect(provider.normalizeScopes(["offline_access", " email ", "", "openid", "email"])).toEqual(["email", "offline_access", "openid"]);
  });
});

describe("OIDC when discovery fails", () => {
  /** An issuer on a loopback port nothing listens on: discovery gets no response. */
  const unreachable = () =>
    createOidcProvider({
      id: "down-oidc",
      name: "Down OIDC",
      issuer: `http://127.0.0.1:9/oidc/${newMockId("down")}`,
      credentials: MOCK_OIDC_CLIENT,
      scopes: ["openid"],
      defaultScopes: ["openid"],
      authorizationParams: {},
      upstreamTimeoutMs: 2_000,
      integrations: [],
    });

  it("reports a refresh while discovery is unreachable as a retryable network failure", async () => {
    expect(await unreachable().refresh("oidc-rt-any")).toEqual({
      ok: false,
      failure: { kind: "network", status: null, error: null, description: null, retryAfterSeconds: null },
    });
  });

  it("fails identity when discovery is unreachable", async () => {
    const tokens = { accessToken: "at", refreshToken: null, expiresIn: 3600, scope: "openid", idToken: "x.y.z", body: {} };
    expect(await unreachable().identify(tokens, "nonce", new Date())).toEqual({
      ok: false,
      reason: "identity_failed",
      detail: "discovery document unavailable",
    });
  });

  const PROVIDER_MISCONFIGURED = { ok: false, failure: expect.objectContaining({ kind: "provider_misconfigured", status: null }) };

  it.each([
    ["a refresh", (provider: Provider) => provider.refresh("oidc-rt-any")],
    ["a code exchange", (provider: Provider) => provider.exchangeCode("any-code", "any-verifier", "http://localhost:8787/cb")],
  ])("answers %s as provider_misconfigured when the discovery document is missing (404)", async (_call, call) => {
    const errors = captureLogs("error");
    expect(await call(providerWithoutDiscovery())).toEqual(PROVIDER_MISCONFIGURED);
    expect(errors.lines()).toEqual([
      { message: "OPERATOR ACTION NEEDED: OIDC discovery unusable", provider: "gone-oidc", reason: expect.stringMatching(/answered 404$/) },
    ]);
  });

  it("answers a revocation as failed, provider_misconfigured, when the discovery document is missing (404)", async () => {
    const errors = captureLogs("error");
    expect(await providerWithoutDiscovery().revoke("oidc-rt-any", "refresh_token")).toEqual({
      kind: "failed",
      failure: expect.objectContaining({ kind: "provider_misconfigured" }),
    });
    expect(errors.messages()).toEqual(["OPERATOR ACTION NEEDED: OIDC discovery unusable"]);
  });

  it.each([
    ["names another issuer", { issuer: "https://evil.example.com" }],
    ["lacks its token endpoint", { token_endpoint: null }],
    ["has a plain-http endpoint that is not loopback", { token_endpoint: "http://tokens.example.com/token" }],
  ])("answers a refresh as provider_misconfigured when the discovery document %s", async (_problem, overrides) => {
    const { provider } = await oidcProvider(overrides);
    const errors = captureLogs("error");
    expect(await provider.refresh("oidc-rt-any")).toEqual(PROVIDER_MISCONFIGURED);
    expect(errors.lines()).toEqual([
      expect.objectContaining({ message: "OPERATOR ACTION NEEDED: OIDC discovery unusable", provider: "mock-oidc" }),
    ]);
  });

  it("answers a revocation as unsupported, without an upstream call, when no revocation endpoint is advertised", async () => {
    const { provider } = await oidcProvider({ revocation_endpoint: null });
    const flow = newMockId("oidc-no-revoke");
    const tokens = tokensOf((await connect(provider, { mock_flow: flow }, { scopes: ["openid", "offline_access"] })).result);
    expect(await provider.revoke(tokens.refreshToken ?? "", "refresh_token")).toEqual({ kind: "unsupported" });
    expect((await mockProvider.requests({ flow })).some((entry) => entry.path.endsWith("/revoke"))).toBe(false);
  });
});
