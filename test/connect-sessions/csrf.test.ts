/**
 * Cross-site form posts to the connect page: another site can make a person's browser post a form, but that post
 * carries the attacker's Origin (and Sec-Fetch-Site: cross-site), and a SameSite=Lax cookie stays behind.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256Base64url } from "../../src/crypto/digest";
import { seedConnection } from "../support/seed-connections";
import { service } from "../support/toolkit";
import { WORKER_ORIGIN } from "../support/worker";
import { newSession, PageBrowser, textOf } from "./page-browser";

const CROSS_SITE = { origin: "https://evil.example", "sec-fetch-site": "cross-site" };

async function pendingFlowsOf(userId: string): Promise<number> {
  const listed = await env.AUTH_STATE.list({ prefix: "authz:" });
  const values = await Promise.all(listed.keys.map((key) => env.AUTH_STATE.get(key.name)));
  return values.filter((value) => value !== null && (JSON.parse(value) as { userId: string }).userId === userId).length;
}

describe("cross-site posts to the connect page", () => {
  it("a Continue posted from another site is refused with 403 and binds nothing: the person's own Continue still works", async () => {
    const { connectUrl, secret } = await newSession("csrf-continue");
    const victim = new PageBrowser();
    const forged = await victim.submit(new URL("/connect", WORKER_ORIGIN), { session: secret }, CROSS_SITE);
    expect(forged.status).toBe(403);
    expect(forged.headers.get("set-cookie")).toBeNull();
    expect(forged.headers.get("content-type")).toMatch(/^text\/html/);
    expect(textOf(await forged.text())).toContain("This request was refused");
    await new PageBrowser().continueTo(connectUrl);
  });

  it("a post with neither Origin nor Sec-Fetch-Site is refused", async () => {
    const { secret } = await newSession("csrf-no-headers");
    const answer = await new PageBrowser().submit(
      new URL("/connect", WORKER_ORIGIN),
      { session: secret },
      { origin: "", "sec-fetch-site": "" },
    );
    expect(answer.status).toBe(403);
  });

  it("a post whose Origin is the service's own is let through where Sec-Fetch-Site is not sent", async () => {
    const { secret } = await newSession("csrf-origin-only");
    const answer = await new PageBrowser().submit(new URL("/connect", WORKER_ORIGIN), { session: secret }, { "sec-fetch-site": "" });
    expect(answer.status).toBe(303);
  });

  it("a Connect posted from another site is refused even with the binding cookie, and begins no flow", async () => {
    const { userId, connectUrl } = await newSession("csrf-connect", { providers: ["google"] });
    const browser = new PageBrowser();
    const page = await browser.continueTo(connectUrl);
    const forged = await browser.submit(new URL(`${page.url.pathname}/start`, WORKER_ORIGIN), { offer: "provider:google" }, CROSS_SITE);
    expect(forged.status).toBe(403);
    expect(forged.headers.get("location")).toBeNull();
    expect(await pendingFlowsOf(userId)).toBe(0);
  });

  it("a Connect without the binding cookie (SameSite=Lax keeps it off cross-site posts) is refused and begins no flow", async () => {
    const { userId, connectUrl, secret } = await newSession("csrf-no-cookie", { providers: ["google"] });
    await new PageBrowser().continueTo(connectUrl);
    const pageUrl = new URL(`/connect/${await sha256Base64url(secret)}/start`, WORKER_ORIGIN);
    const answer = await new PageBrowser().submit(pageUrl, { offer: "provider:google" });
    expect(answer.status).toBe(403);
    expect(textOf(await answer.text())).toContain("This link is open in another browser");
    expect(await pendingFlowsOf(userId)).toBe(0);
  });

  it("a Disconnect posted from another site is refused and removes nothing", async () => {
    const { userId, connectUrl } = await newSession("csrf-disconnect", { providers: ["google"] });
    const connection = await seedConnection({ userId, provider: "google" });
    const browser = new PageBrowser();
    const page = await browser.continueTo(connectUrl);
    const forged = await browser.submit(
      new URL(`${page.url.pathname}/disconnect`, WORKER_ORIGIN),
      { offer: "provider:google", connection_id: connection.id },
      CROSS_SITE,
    );
    expect(forged.status).toBe(403);
    expect((await service.call(userId, `/v1/connections/${connection.id}`)).status).toBe(200);
  });

  it("a Disconnect without the binding cookie is refused and removes nothing", async () => {
    const { userId, connectUrl, secret } = await newSession("csrf-disconnect-no-cookie", { providers: ["google"] });
    const connection = await seedConnection({ userId, provider: "google" });
    await new PageBrowser().continueTo(connectUrl);
    const answer = await new PageBrowser().submit(new URL(`/connect/${await sha256Base64url(secret)}/disconnect`, WORKER_ORIGIN), {
      offer: "provider:google",
      connection_id: connection.id,
    });
    expect(answer.status).toBe(403);
    expect((await service.call(userId, `/v1/connections/${connection.id}`)).status).toBe(200);
  });
});
