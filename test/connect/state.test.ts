import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { LOCAL_OIDC_ID } from "../support/bindings";
import { Browser, rewriteQuery } from "../support/browser";
import { authorizeInBrowser } from "../support/connect-flow";
import { newOidcAccount } from "../support/oidc-control";
import { expectProblem } from "../support/problems";
import { service } from "../support/toolkit";
import { worker } from "../support/worker";

async function expectInvalidState(response: Response): Promise<void> {
  expect(response.headers.get("Location")).toBeNull();
  await expectProblem(response, 400, "invalid-state");
}

async function connectionCount(userId: string): Promise<number> {
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM connections WHERE user_id = ?").bind(userId).first<{ n: number }>();
  return row!.n;
}

describe("authorization state", () => {
  it("cannot be replayed: the second callback with the same state fails and creates nothing more", async () => {
    const { authorization_url: startUrl } = await service.beginConnect("state-replay", LOCAL_OIDC_ID, {
      return_to: "https://app.example.com/x",
    });
    const browser = new Browser();
    const { callbackUrl } = await authorizeInBrowser(browser, startUrl, { login_hint: newOidcAccount() });
    const cookie = browser.cookies.header(callbackUrl)!;
    const stored = await env.AUTH_STATE.list({ prefix: "authz:" });
    const snapshot = await Promise.all(stored.keys.map(async (key) => [key.name, await env.AUTH_STATE.get(key.name)] as const));
    expect((await browser.request(callbackUrl)).status).toBe(302);
    // KV is eventually consistent: another location may still read the deleted state. Put it back, and replay
    // with the original cookie (the browser itself dropped it), so only the single-use claim can refuse it.
    for (const [name, value] of snapshot) if (value !== null) await env.AUTH_STATE.put(name, value);
    const replay = await worker().fetch(new Request(callbackUrl, { headers: { Cookie: cookie } }));
    await expectInvalidState(replay);
    expect(await connectionCount("state-replay")).toBe(1);
    const audit = await env.DB.prepare("SELECT detail FROM audit_events WHERE user_id = ? AND outcome = 'failure'")
      .bind("state-replay")
      .first<{ detail: string }>();
    expect(JSON.parse(audit!.detail)).toEqual({ reason: "replayed_state" });
  });

  it("is refused when the browser lacks the flow's cookie", async () => {
    const { authorization_url: startUrl } = await service.beginConnect("state-no-cookie", LOCAL_OIDC_ID, {
      return_to: "https://app.example.com/x",
    });
    const { callbackUrl } = await authorizeInBrowser(new Browser(), startUrl, { login_hint: newOidcAccount() });
    await expectInvalidState(await new Browser().request(callbackUrl));
    expect(await connectionCount("state-no-cookie")).toBe(0);
  });

  it("is refused at another provider's callback (mix-up)", async () => {
    const { authorization_url: startUrl } = await service.beginConnect("state-wrong-provider", LOCAL_OIDC_ID);
    const browser = new Browser();
    const { callbackUrl } = await authorizeInBrowser(browser, startUrl, { login_hint: newOidcAccount() });
    const elsewhere = new URL(callbackUrl);
    elsewhere.pathname = "/v1/oauth/google/callback";
    await expectInvalidState(await browser.request(elsewhere));
  });

  it("is refused when forged", async () => {
    const { authorization_url: startUrl } = await service.beginConnect("state-forged", LOCAL_OIDC_ID);
    const browser = new Browser();
    const { callbackUrl } = await authorizeInBrowser(browser, startUrl, { login_hint: newOidcAccount() });
    await expectInvalidState(await browser.request(new URL(rewriteQuery(callbackUrl, { state: "A".repeat(43) }))));
    await expectInvalidState(await browser.request(new URL(rewriteQuery(callbackUrl, { state: null }))));
  });

  it("is refused once expired", async () => {
    const { authorization_url: startUrl } = await service.beginConnect("state-expired", LOCAL_OIDC_ID);
    const browser = new Browser();
    const { callbackUrl } = await authorizeInBrowser(browser, startUrl, { login_hint: newOidcAccount() });
    // Age the stored transaction past its TTL; KV's own expiry (10 minutes) cannot be waited for in a test.
    const list = await env.AUTH_STATE.list({ prefix: "authz:" });
    for (const key of list.keys) {
      const record = await env.AUTH_STATE.get<Record<string, unknown>>(key.name, "json");
      if (record?.userId === "state-expired") await env.AUTH_STATE.put(key.name, JSON.stringify({ ...record, expiresAt: Date.now() - 1 }));
    }
    await expectInvalidState(await browser.request(callbackUrl));
  });

  it("start URL works once: a second browser cannot bind itself to the flow", async () => {
    const { authorization_url: startUrl } = await service.beginConnect("state-start-once", LOCAL_OIDC_ID);
    const first = await new Browser().follow(startUrl, { stopBefore: () => true });
    expect(first.response.status).toBe(302);
    const second = await new Browser().follow(startUrl, { stopBefore: () => true });
    await expectInvalidState(second.response);
  });

  it("start sets an HttpOnly, SameSite=Lax cookie scoped to the OAuth paths, named per flow", async () => {
    const { authorization_url: firstUrl } = await service.beginConnect("state-cookie", LOCAL_OIDC_ID);
    const { authorization_url: secondUrl } = await service.beginConnect("state-cookie", LOCAL_OIDC_ID);
    const browser = new Browser();
    const cookies = [];
    for (const url of [firstUrl, secondUrl]) {
      const { response } = await browser.follow(url, { stopBefore: () => true });
      expect(response.headers.get("Referrer-Policy")).toBe("no-referrer");
      cookies.push(response.headers.get("Set-Cookie")!);
    }
    for (const cookie of cookies) {
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Lax/);
      expect(cookie).toMatch(/Path=\/v1\/oauth\//);
      const maxAge = Number(cookie.match(/Max-Age=(\d+)/)![1]);
      expect(maxAge).toBeGreaterThan(0);
      expect(maxAge).toBeLessThanOrEqual(600);
      expect(cookie).not.toMatch(/Secure/);
    }
    const names = cookies.map((cookie) => cookie.split("=")[0]);
    expect(names[0]).not.toBe(names[1]);
  });

  it("keeps no usable state value in KV keys, and no token in KV values", async () => {
    const { authorization_url: startUrl } = await service.beginConnect("state-kv", LOCAL_OIDC_ID);
    const state = new URL(startUrl).searchParams.get("state")!;
    const list = await env.AUTH_STATE.list({ prefix: "authz:" });
    expect(list.keys.some((key) => key.name.includes(state))).toBe(false);
  });
});

describe("the start URL under link previews and prefetching", () => {
  /** What a link preview, a prefetch or a HEAD gets: a note, and the link left unspent. */
  async function expectLeftUnspent(response: Response, method: "GET" | "HEAD"): Promise<void> {
    expect(response.status).toBe(200);
    expect(response.headers.get("Location")).toBeNull();
    expect(response.headers.get("Set-Cookie")).toBeNull();
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(response.headers.get("Content-Type")).toMatch(/^text\/plain/);
    expect(await response.text()).toBe(method === "HEAD" ? "" : "Open this link in your browser to continue.");
  }

  it("is left unspent by HEAD and by no-cors and cors fetches, so the user's navigation then completes the flow", async () => {
    const { authorization_url: startUrl } = await service.beginConnect("start-preview", LOCAL_OIDC_ID);
    await expectLeftUnspent(await worker().fetch(new Request(startUrl, { method: "HEAD" })), "HEAD");
    for (const mode of ["no-cors", "cors", "same-origin"]) {
      await expectLeftUnspent(await worker().fetch(new Request(startUrl, { headers: { "Sec-Fetch-Mode": mode } })), "GET");
    }

    // The cookie browser announces each request as a navigation (Sec-Fetch-Mode: navigate), as real browsers do.
    const browser = new Browser();
    const { callbackUrl } = await authorizeInBrowser(browser, startUrl, { login_hint: newOidcAccount() });
    const callback = await browser.request(callbackUrl);
    expect(callback.status).toBe(200);
    expect(await connectionCount("start-preview")).toBe(1);
  });

  it("counts a request without Sec-Fetch-Mode as a navigation: it binds the browser and redirects to the provider", async () => {
    const { authorization_url: startUrl } = await service.beginConnect("start-no-fetch-metadata", LOCAL_OIDC_ID);
    const response = await worker().fetch(new Request(startUrl, { redirect: "manual" }));
    expect(response.status).toBe(302);
    expect(response.headers.get("Set-Cookie")).toMatch(/^cm_flow_/);
    // It spent the link: a second browser cannot bind itself.
    await expectInvalidState((await new Browser().follow(startUrl, { stopBefore: () => true })).response);
  });

  it("still refuses an unknown state on a navigation", async () => {
    const { authorization_url: startUrl } = await service.beginConnect("start-unknown-state", LOCAL_OIDC_ID);
    const forged = rewriteQuery(startUrl, { state: "A".repeat(43) });
    await expectInvalidState((await new Browser().follow(forged)).response);
  });
});
