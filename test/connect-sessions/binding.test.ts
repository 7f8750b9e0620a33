import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { sha256Base64url } from "../../src/crypto/digest";
import { service } from "../support/toolkit";
import { WORKER_ORIGIN } from "../support/worker";
import { buttonsOf, newSession, PageBrowser, textOf } from "./page-browser";

afterEach(() => {
  vi.restoreAllMocks();
});

/** Rewrites the stored session as if its 30 minutes were over (KV keeps a record for at least 60 s past its TTL). */
async function expire(secret: string): Promise<void> {
  const key = `connect-session:${await sha256Base64url(secret)}`;
  const session = JSON.parse((await env.AUTH_STATE.get(key))!) as { expiresAt: number };
  await env.AUTH_STATE.put(key, JSON.stringify({ ...session, expiresAt: Date.now() - 1 }));
}

describe("opening a connect link", () => {
  it("shows whom it is for and a Continue button, and spends nothing: another browser can still open it", async () => {
    const { connectUrl } = await newSession("link-landing", { end_user: { display_name: "Ada Lovelace" } });
    const preview = await new PageBrowser().open(connectUrl);
    expect(preview.status).toBe(200);
    expect(preview.url.href).toBe(connectUrl);
    expect(textOf(preview.html)).toContain("Connecting accounts for Ada Lovelace");
    expect(textOf(preview.html)).toContain("If you are not Ada Lovelace, close this page");
    expect(buttonsOf(preview.html).map((button) => button.name)).toEqual(["Continue"]);

    const person = new PageBrowser();
    const page = await person.continueTo(connectUrl);
    expect(textOf(page.html)).toContain("Connecting accounts for Ada Lovelace");
  });

  it("falls back to the email when the application gave no display name", async () => {
    const { connectUrl } = await newSession("link-email", { end_user: { email: "ada@example.com" } });
    expect(textOf((await new PageBrowser().open(connectUrl)).html)).toContain("Connecting accounts for ada@example.com");
  });

  it("Continue binds the browser with an HttpOnly, SameSite=Lax, Path=/connect cookie named per session, and moves the secret out of the URL", async () => {
    const { connectUrl, secret } = await newSession("link-continue");
    const browser = new PageBrowser();
    const landing = await browser.open(connectUrl);
    const continued = await browser.submit(new URL("/connect", WORKER_ORIGIN), buttonsOf(landing.html)[0]!.fields);
    expect(continued.status).toBe(303);
    const location = new URL(continued.headers.get("location")!, WORKER_ORIGIN);
    expect(location.pathname).toBe(`/connect/${await sha256Base64url(secret)}`);
    expect(location.search).toBe("");
    expect(location.href).not.toContain(secret);
    const cookie = continued.headers.get("set-cookie")!;
    expect(cookie).toMatch(new RegExp(`^cm_connect_${await sha256Base64url(secret)}=`));
    expect(cookie).toMatch(/;\s*HttpOnly/i);
    expect(cookie).toMatch(/;\s*SameSite=Lax/i);
    expect(cookie).toMatch(/;\s*Path=\/connect(;|$)/i);
    expect(Number(/Max-Age=(\d+)/i.exec(cookie)?.[1])).toBeLessThanOrEqual(1800);
    expect(cookie).not.toContain(secret);
    const page = await browser.open(location);
    expect(page.status).toBe(200);
    expect(page.html).not.toContain(secret);
  });

  it("refuses another browser that presses Continue afterwards, with a page that says so", async () => {
    const { connectUrl } = await newSession("link-other-browser", { providers: ["local-oidc"] });
    await new PageBrowser().continueTo(connectUrl);
    const other = new PageBrowser();
    const landing = await other.open(connectUrl);
    const refused = await other.click(landing, "Continue");
    expect(refused.status).toBe(403);
    expect(textOf(refused.html)).toContain("This link is open in another browser");
    expect(buttonsOf(refused.html)).toEqual([]);
  });

  it("refuses another browser that opens the page's URL", async () => {
    const { connectUrl } = await newSession("link-page-url", { providers: ["local-oidc"] });
    const page = await new PageBrowser().continueTo(connectUrl);
    const refused = await new PageBrowser().open(page.url);
    expect(refused.status).toBe(403);
    expect(textOf(refused.html)).toContain("This link is open in another browser");
    expect(refused.html).not.toContain("Local OpenID Provider");
  });

  it("lets the browser that holds the link through again: reopening the link, or pressing Continue a second time", async () => {
    const { connectUrl } = await newSession("link-same-browser");
    const browser = new PageBrowser();
    const page = await browser.continueTo(connectUrl);
    const reopened = await browser.open(connectUrl);
    expect(reopened.status).toBe(200);
    expect(reopened.url.href).toBe(page.url.href);
    const again = await browser.submit(new URL("/connect", WORKER_ORIGIN), { session: new URL(connectUrl).searchParams.get("session")! });
    expect(again.status).toBe(303);
    expect(new URL(again.headers.get("location")!, WORKER_ORIGIN).href).toBe(page.url.href);
  });

  it("shows a readable page for an expired link, before and after Continue", async () => {
    const { connectUrl, secret } = await newSession("link-expired");
    const browser = new PageBrowser();
    const page = await browser.continueTo(connectUrl);
    await expire(secret);
    for (const viewed of [await browser.open(connectUrl), await browser.open(page.url), await new PageBrowser().open(connectUrl)]) {
      expect(viewed.status).toBe(404);
      expect(textOf(viewed.html)).toContain("This link has expired");
    }
    const continued = await new PageBrowser().submit(new URL("/connect", WORKER_ORIGIN), { session: secret });
    expect(continued.status).toBe(404);
    expect(continued.headers.get("set-cookie")).toBeNull();
  });

  it.each(["/connect?session=never-issued", "/connect"])("shows the expired page for %s", async (path) => {
    const viewed = await new PageBrowser().open(new URL(path, WORKER_ORIGIN));
    expect(viewed.status).toBe(404);
    expect(textOf(viewed.html)).toContain("This link has expired");
  });

  it("never writes the link's secret into the audit trail or a log line, even through a whole visit", async () => {
    const logged: unknown[] = [];
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => logged.push(args));
    }
    const { connectUrl, secret, userId } = await newSession("link-secret", { providers: ["google"] });
    const browser = new PageBrowser();
    const page = await browser.continueTo(connectUrl);
    await browser.click(page, "Connect Google");
    await new PageBrowser().continueTo(connectUrl).catch(() => undefined);
    expect(JSON.stringify(logged)).not.toContain(secret);
    const audit = await service.auditEvents(userId);
    expect(audit.length).toBeGreaterThan(0);
    expect(JSON.stringify(audit)).not.toContain(secret);
    const rows = await env.DB.prepare("SELECT * FROM audit_events WHERE user_id = ?").bind(userId).all();
    expect(JSON.stringify(rows.results)).not.toContain(secret);
  });
});
