import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import { describe, expect, inject, it } from "vitest";
import { LOCAL_OIDC_CLIENT, TEST_JWT_SECRET } from "./bindings";
import { Browser, CookieJar, rewriteQuery } from "./browser";
import { callerToken, authHeaders } from "./caller-token";
import { LOCAL_OIDC_REDIRECT_URI, localOidcClient } from "./oidc-client";
import { newOidcAccount } from "./oidc-control";
import { localOidc } from "./toolkit";

const issuer = inject("oidcIssuer");
const { authorizationUrl, tokenRequest, connect, isCallback } = localOidcClient(issuer);
const clientAuthorization = `Basic ${btoa(`${LOCAL_OIDC_CLIENT.clientId}:${LOCAL_OIDC_CLIENT.clientSecret}`)}`;

async function eventCounts(accountId: string): Promise<Record<string, number>> {
  return (await localOidc.events(accountId)).counts;
}

describe("local OIDC server", () => {
  it("serves its discovery document to workerd at the injected issuer", async () => {
    const response = await fetch(`${issuer}/.well-known/openid-configuration`);
    const discovery = await response.json<Record<string, unknown>>();

    expect(discovery).toMatchObject({
      issuer,
      authorization_response_iss_parameter_supported: true,
      code_challenge_methods_supported: ["S256"],
      revocation_endpoint: `${issuer}/token/revocation`,
    });
    expect(discovery.scopes_supported).toEqual(expect.arrayContaining(["offline_access", "api:read", "api:write"]));
  });

  it("completes login and consent for the hinted account without a human and redirects with code and iss", async () => {
    const accountId = newOidcAccount();
    const { url } = await authorizationUrl(accountId);

    const { chain, stoppedAt } = await new Browser().follow(url, { stopBefore: isCallback });

    expect(chain.map((visited) => new URL(visited).pathname)).toEqual([
      "/auth",
      expect.stringMatching(/^\/interaction\//),
      expect.stringMatching(/^\/auth\//),
    ]);
    expect(stoppedAt?.searchParams.get("code")).toBeTruthy();
    expect(stoppedAt?.searchParams.get("iss")).toBe(issuer);
    expect(stoppedAt?.searchParams.get("state")).toBe("state-1");
  });

  it("issues a refresh token and an RS256 id_token with the account's claims, and counts the grant", async () => {
    const accountId = newOidcAccount();

    const tokens = await connect(accountId);

    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.scope.split(" ")).toEqual(expect.arrayContaining(["offline_access", "api:read", "api:write"]));
    const { payload } = await jwtVerify(tokens.id_token ?? "", createRemoteJWKSet(new URL(`${issuer}/jwks`)), {
      issuer,
      audience: LOCAL_OIDC_CLIENT.clientId,
      algorithms: ["RS256"],
    });
    expect(payload).toMatchObject({
      sub: accountId,
      email: `${accountId}@example.com`,
      email_verified: true,
      name: `User ${accountId}`,
      nonce: "nonce-1",
    });
    expect(await eventCounts(accountId)).toMatchObject({ authorization_code: 1, refresh_token: 0 });
  });

  it("refuses, loudly, to log a browser's session in as a second account", async () => {
    const browser = new Browser();
    await connect(newOidcAccount(), browser);
    const { url } = await authorizationUrl(newOidcAccount());

    // Without prompt=consent nothing else would send this request through an interaction.
    const { response, stoppedAt } = await browser.follow(rewriteQuery(url, { prompt: null }), { stopBefore: isCallback });

    expect(stoppedAt).toBeNull();
    expect(response.status).toBe(409);
  });

  it("ends the flow with access_denied for an account set to deny", async () => {
    const accountId = newOidcAccount();
    await localOidc.steerAccount(accountId, { deny: true });
    const { url } = await authorizationUrl(accountId);

    const { stoppedAt } = await new Browser().follow(url, { stopBefore: isCallback });

    expect(stoppedAt?.searchParams.get("error")).toBe("access_denied");
    expect(stoppedAt?.searchParams.get("code")).toBeNull();
  });

  it("leaves an account's denied scopes out of the granted scope", async () => {
    const accountId = newOidcAccount();
    await localOidc.steerAccount(accountId, { deny_scopes: ["api:write"] });

    const tokens = await connect(accountId);

    expect(tokens.scope.split(" ")).toContain("api:read");
    expect(tokens.scope.split(" ")).not.toContain("api:write");
  });

  it("shows a person without a login hint a sign-in page and a consent page, and redirects with a code once they allow", async () => {
    const accountId = newOidcAccount();
    const browser = new Browser();
    const { url } = await authorizationUrl(accountId);
    const signIn = await browser.follow(rewriteQuery(url, { login_hint: null }));
    const signInPage = await signIn.response.text();
    expect(signInPage).toContain("<h1>Sign in</h1>");
    const login = /action="(\/interaction\/[^"]+\/login)"/.exec(signInPage)![1]!;
    const afterLogin = await browser.submit(new URL(login, issuer), { account: accountId });
    expect(afterLogin.status).toBe(303);
    const consent = await browser.follow(new URL(afterLogin.headers.get("location")!, issuer));
    const consentPage = await consent.response.text();
    expect(consentPage).toContain("Allow access?");
    expect(consentPage).toContain(`the account ${accountId}:`);
    const confirm = /action="(\/interaction\/[^"]+\/confirm)"/.exec(consentPage)![1]!;
    const allowed = await browser.submit(new URL(confirm, issuer), {});
    const { stoppedAt } = await browser.follow(new URL(allowed.headers.get("location")!, issuer), { stopBefore: isCallback });
    expect(stoppedAt?.searchParams.get("code")).toMatch(/\S/);
    expect(stoppedAt?.searchParams.get("iss")).toBe(issuer);
  });

  it("offers demo accounts to pick on the sign-in page, and signs in as the one picked with its name", async () => {
    const browser = new Browser();
    const { url, codeVerifier } = await authorizationUrl(newOidcAccount());
    const signInPage = await (await browser.follow(rewriteQuery(url, { login_hint: null }))).response.text();
    expect(signInPage).toContain(
      '<button type="submit" name="account" value="grace.hopper">Grace Hopper (grace.hopper@example.com)</button>',
    );
    const login = /action="(\/interaction\/[^"]+\/login)"/.exec(signInPage)![1]!;

    const afterLogin = await browser.submit(new URL(login, issuer), { account: "grace.hopper" });
    const consentPage = await (await browser.follow(new URL(afterLogin.headers.get("location")!, issuer))).response.text();
    const confirm = /action="(\/interaction\/[^"]+\/confirm)"/.exec(consentPage)![1]!;
    const allowed = await browser.submit(new URL(confirm, issuer), {});
    const { stoppedAt } = await browser.follow(new URL(allowed.headers.get("location")!, issuer), { stopBefore: isCallback });
    const code = stoppedAt?.searchParams.get("code") ?? "";
    const tokens = await tokenRequest({
      grant_type: "authorization_code",
      code,
      redirect_uri: LOCAL_OIDC_REDIRECT_URI,
      code_verifier: codeVerifier,
    });

    expect(decodeJwt(tokens.id_token ?? "")).toMatchObject({ sub: "grace.hopper", name: "Grace Hopper" });
  });

  it("lets a browser that signed in before choose the account again, its own among the choices, instead of continuing as it", async () => {
    const accountId = newOidcAccount();
    const browser = new Browser();
    await connect(accountId, browser);
    const { url } = await authorizationUrl(accountId);

    const again = await browser.follow(rewriteQuery(url, { login_hint: null, prompt: null }), { stopBefore: isCallback });

    expect(again.stoppedAt).toBeNull();
    const page = await again.response.text();
    expect(page).toContain("<h1>Sign in</h1>");
    expect(page).toContain(`value="${accountId}">User ${accountId} (${accountId}@example.com) · signed in</button>`);
  });

  it("ends a person's flow with access_denied when they deny at consent", async () => {
    const browser = new Browser();
    const { url } = await authorizationUrl(newOidcAccount());
    const signInPage = await (await browser.follow(rewriteQuery(url, { login_hint: null }))).response.text();
    const login = /action="(\/interaction\/[^"]+\/login)"/.exec(signInPage)![1]!;
    const afterLogin = await browser.submit(new URL(login, issuer), { account: newOidcAccount() });
    const consentPage = await (await browser.follow(new URL(afterLogin.headers.get("location")!, issuer))).response.text();
    const abort = /action="(\/interaction\/[^"]+\/abort)"/.exec(consentPage)![1]!;
    const denied = await browser.submit(new URL(abort, issuer), {});
    const { stoppedAt } = await browser.follow(new URL(denied.headers.get("location")!, issuer), { stopBefore: isCallback });
    expect(stoppedAt?.searchParams.get("error")).toBe("access_denied");
  });

  it("asks again on the sign-in page for an account id it cannot use", async () => {
    const browser = new Browser();
    const { url } = await authorizationUrl(newOidcAccount());
    const signInPage = await (await browser.follow(rewriteQuery(url, { login_hint: null }))).response.text();
    const login = /action="(\/interaction\/[^"]+\/login)"/.exec(signInPage)![1]!;
    const refused = await browser.submit(new URL(login, issuer), { account: "no spaces <please>" });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('role="alert"');
  });

  it("revokes the whole grant when a rotated refresh token is spent twice", async () => {
    const accountId = newOidcAccount();
    const { refresh_token: original = "" } = await connect(accountId);

    const first = await tokenRequest({ grant_type: "refresh_token", refresh_token: original });
    const reuse = await tokenRequest({ grant_type: "refresh_token", refresh_token: original });
    const afterReuse = await tokenRequest({ grant_type: "refresh_token", refresh_token: first.refresh_token ?? "" });

    expect(first.refresh_token).toBeTruthy();
    expect(first.refresh_token).not.toBe(original);
    expect(reuse.error).toBe("invalid_grant");
    expect(afterReuse.error).toBe("invalid_grant");
    expect(await eventCounts(accountId)).toMatchObject({ refresh_token: 1, token_error: 1, grant_revoked: 1 });
  });

  it("records a refresh token revoked at the revocation endpoint", async () => {
    const accountId = newOidcAccount();
    const { refresh_token: refreshToken = "" } = await connect(accountId);

    const response = await fetch(`${issuer}/token/revocation`, {
      method: "POST",
      headers: { Authorization: clientAuthorization, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: refreshToken, token_type_hint: "refresh_token" }),
    });

    expect(response.status).toBe(200);
    expect(await eventCounts(accountId)).toMatchObject({ revocation: 1, grant_revoked: 1 });
  });
});

describe("callerToken", () => {
  it("signs an HS256 token with the test secret, carrying sub, scope and exp", async () => {
    const token = await callerToken("user-1", { scope: "connections:token" });

    const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(TEST_JWT_SECRET));

    expect(protectedHeader.alg).toBe("HS256");
    expect(payload).toMatchObject({ sub: "user-1", scope: "connections:token" });
    expect(payload.exp).toBeGreaterThan(Date.now() / 1000);
  });

  it("omits exp when expiresInSeconds is null", async () => {
    expect(decodeJwt(await callerToken("user-1", { expiresInSeconds: null })).exp).toBeUndefined();
  });

  it("signed with another secret, does not verify with the test secret", async () => {
    const token = await callerToken("user-1", { secret: "another-secret-0123456789abcdef0123" });

    await expect(jwtVerify(token, new TextEncoder().encode(TEST_JWT_SECRET))).rejects.toThrow();
  });

  it("authHeaders wraps the token as a bearer Authorization header", async () => {
    const { Authorization } = await authHeaders("user-2");

    expect(decodeJwt(Authorization.replace(/^Bearer /, "")).sub).toBe("user-2");
  });
});

describe("Browser", () => {
  it("sends requests for the service's origin to the Worker under test", async () => {
    // Nothing listens on localhost:8787 during tests, so only the Worker's own fetch can answer.
    const { response, chain } = await new Browser().follow("http://localhost:8787/health");

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
    expect(chain).toEqual(["http://localhost:8787/health"]);
  });
});

describe("CookieJar", () => {
  const origin = "http://localhost:8787";

  it("sends a cookie only to paths under its Path", () => {
    const jar = new CookieJar();
    jar.store(new URL(`${origin}/v1/oauth/google/start`), ["flow=abc; Path=/v1/oauth/; HttpOnly; SameSite=Lax"]);

    expect(jar.header(new URL(`${origin}/v1/oauth/google/callback`))).toBe("flow=abc");
    expect(jar.header(new URL(`${origin}/v1/connections`))).toBeUndefined();
    expect(jar.header(new URL("http://127.0.0.1:9/v1/oauth/google/callback"))).toBeUndefined();
  });

  it("defaults Path to the directory of the request path", () => {
    const jar = new CookieJar();
    jar.store(new URL(`${origin}/interaction/abc`), ["i=1"]);

    expect(jar.header(new URL(`${origin}/interaction/xyz`))).toBe("i=1");
    expect(jar.header(new URL(`${origin}/auth`))).toBeUndefined();
  });

  it("deletes a cookie set again with Max-Age=0", () => {
    const jar = new CookieJar();
    const url = new URL(`${origin}/v1/oauth/google/callback`);
    jar.store(url, ["flow=abc; Path=/v1/oauth/", "other=1; Path=/v1/oauth/"]);

    jar.store(url, ["flow=; Path=/v1/oauth/; Max-Age=0"]);

    expect(jar.header(url)).toBe("other=1");
  });
});

describe("rewriteQuery", () => {
  it("sets, replaces and removes query parameters", () => {
    const rewritten = new URL(rewriteQuery("http://127.0.0.1:1/auth?a=1&b=2", { a: "x", b: null, login_hint: "bob" }));

    expect([...rewritten.searchParams]).toEqual([
      ["a", "x"],
      ["login_hint", "bob"],
    ]);
  });
});
