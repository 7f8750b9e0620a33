import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { database } from "../../src/storage/database";
import { saveActivation } from "../../src/storage/integration-activations";
import type { Connection } from "../support/api-client";
import { LOCAL_OIDC_ID } from "../support/bindings";
import { authorizeInBrowser } from "../support/connect-flow";
import { newMockId } from "../support/mock-control";
import { newOidcAccount } from "../support/oidc-control";
import { seedConnection } from "../support/seed-connections";
import { mockProvider, service } from "../support/toolkit";
import { callWorker, WORKER_ORIGIN } from "../support/worker";
import { buttonsOf, newSession, PageBrowser, textOf, type Viewed } from "./page-browser";

const CALENDAR = "https://www.googleapis.com/auth/calendar.events";

afterEach(() => {
  vi.restoreAllMocks();
});

function buttonNames(viewed: Viewed): string[] {
  return buttonsOf(viewed.html).map((button) => button.name);
}

/** Goes through the provider from the start URL a button led to, and back to the page (the callback redirects there). */
async function throughProvider(browser: PageBrowser, startUrl: URL, providerParams: Record<string, string>): Promise<Viewed> {
  const { callbackUrl } = await authorizeInBrowser(browser, startUrl.href, providerParams);
  return browser.open(callbackUrl);
}

describe("the connect page", () => {
  it("lists each offer with its state for the user, and buttons named after the offer and the account", async () => {
    const { userId, connectUrl } = await newSession("page-list", {
      integrations: ["google-calendar"],
      providers: ["google", "notion"],
      end_user: { display_name: "Ada" },
    });
    await seedConnection({ userId, provider: "google", accountEmail: "ada@example.com" });
    await seedConnection({ userId, provider: "google", accountEmail: "ada.work@example.com", status: "needs_reauth" });
    const page = await new PageBrowser().continueTo(connectUrl);
    expect(buttonNames(page)).toEqual([
      "Connect Google Calendar",
      "Disconnect Google (ada@example.com)",
      "Reconnect Google (ada.work@example.com)",
      "Disconnect Google (ada.work@example.com)",
      "Connect Google",
      "Connect Notion",
    ]);
    const text = textOf(page.html);
    expect(text).toContain("Connecting accounts for Ada");
    expect(text).toMatch(/ada@example\.com Connected/);
    expect(text).toMatch(/ada\.work@example\.com Needs reconnection/);
    expect(text).toMatch(/Notion Not connected/);
    expect(page.html).toMatch(/<html lang="en">/);
  });

  it("shows an integration whose account lacks its scopes as needing more permissions, with Reconnect naming the account", async () => {
    const { userId, connectUrl } = await newSession("page-permissions", { integrations: ["google-calendar"] });
    const connection = await seedConnection({ userId, provider: "google", accountEmail: "ada@example.com" });
    await saveActivation(database(env.DB), { userId, integration: "google-calendar", connectionId: connection.id, now: Date.now() });
    const page = await new PageBrowser().continueTo(connectUrl);
    expect(textOf(page.html)).toMatch(/ada@example\.com Needs more permissions/);
    expect(buttonNames(page)).toEqual(["Reconnect Google Calendar (ada@example.com)", "Disconnect Google Calendar (ada@example.com)"]);
  });

  it("offers every configured provider when the session names none", async () => {
    const page = await new PageBrowser().continueTo((await newSession("page-everything")).connectUrl);
    expect(buttonNames(page)).toEqual([
      "Connect Google",
      "Connect YouTube",
      "Connect Microsoft",
      "Connect Notion",
      "Connect Local OpenID Provider",
    ]);
  });

  it("Connect runs the ordinary flow through the provider and comes back to the page saying Connected as the account", async () => {
    const { userId, connectUrl } = await newSession("page-connect", { providers: [LOCAL_OIDC_ID] });
    const browser = new PageBrowser();
    const page = await browser.continueTo(connectUrl);
    const { leftFor } = await browser.click(page, "Connect Local OpenID Provider");
    expect(leftFor?.pathname).toBe(`/v1/oauth/${LOCAL_OIDC_ID}/start`);
    const account = newOidcAccount();
    const back = await throughProvider(browser, leftFor!, { login_hint: account });
    expect(back.status).toBe(200);
    expect(back.url.pathname).toBe(page.url.pathname);
    expect(textOf(back.html)).toContain(`Connected as ${account}@example.com.`);
    expect(buttonNames(back)).toContain(`Disconnect Local OpenID Provider (${account}@example.com)`);
    const { connections } = await service.json<{ connections: Connection[] }>(userId, "/v1/connections");
    expect(connections.map((connection) => connection.account.id)).toEqual([account]);
    expect(back.url.searchParams.get("connection_id")).toBe(connections[0]!.id);
  });

  it("Reconnect asks again for what the account had, with consent, and comes back with the account healed", async () => {
    const { userId, connectUrl } = await newSession("page-reconnect", { providers: ["google"] });
    const flow = { mock_flow: newMockId("page-reconnect") };
    const browser = new PageBrowser();
    const first = await throughProvider(
      browser,
      (await browser.click(await browser.continueTo(connectUrl), "Connect Google")).leftFor!,
      flow,
    );
    const [connection] = (await service.json<{ connections: Connection[] }>(userId, "/v1/connections")).connections;
    await env.DB.prepare("UPDATE connections SET status = 'needs_reauth', status_reason = 'invalid_grant' WHERE id = ?")
      .bind(connection!.id)
      .run();
    const page = await browser.open(first.url.pathname);
    expect(textOf(page.html)).toContain("ava@example.com Needs reconnection");
    const { leftFor } = await browser.click(page, "Reconnect Google (ava@example.com)");
    const { providerUrl, callbackUrl } = await authorizeInBrowser(browser, leftFor!.href, flow);
    expect(providerUrl.searchParams.get("prompt")).toBe("consent");
    expect(providerUrl.searchParams.get("scope")?.split(" ").sort()).toEqual(connection!.scopes.sort());
    const back = await browser.open(callbackUrl);
    expect(textOf(back.html)).toContain("Connected as ava@example.com.");
    expect((await service.connection(userId, connection!.id)).status).toBe("active");
  });

  it("a declined authorization comes back saying so, with nothing connected", async () => {
    const { userId, connectUrl } = await newSession("page-declined", { providers: ["google"] });
    const browser = new PageBrowser();
    const page = await browser.continueTo(connectUrl);
    const back = await throughProvider(browser, (await browser.click(page, "Connect Google")).leftFor!, { mock_error: "access_denied" });
    expect(textOf(back.html)).toContain("You declined access. Nothing was connected.");
    expect(buttonNames(back)).toEqual(["Connect Google"]);
    expect((await service.json<{ connections: Connection[] }>(userId, "/v1/connections")).connections).toEqual([]);
  });

  it("a transient failure comes back with a one-click retry that starts the flow again", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const { connectUrl } = await newSession("page-transient", { providers: ["google"] });
    const browser = new PageBrowser();
    const page = await browser.continueTo(connectUrl);
    const back = await throughProvider(browser, (await browser.click(page, "Connect Google")).leftFor!, {
      mock_token_failure: "temporarily_unavailable",
    });
    expect(textOf(back.html)).toContain("Google could not finish connecting just now.");
    expect(buttonNames(back)).toEqual(["Try again", "Connect Google"]);
    const retry = await browser.click(back, "Try again");
    expect(retry.leftFor?.pathname).toBe("/v1/oauth/google/start");
    const connected = await throughProvider(browser, retry.leftFor!, { mock_flow: newMockId("page-retry") });
    expect(textOf(connected.html)).toMatch(/Connected as /);
  });

  it("Disconnect removes the account as DELETE /v1/connections/{id} does, revoking it upstream, and says so", async () => {
    const { userId, connectUrl } = await newSession("page-disconnect", { providers: ["google"] });
    const flow = newMockId("page-disconnect");
    // An account of its own: Google grants are shared per account, and a grant another test's connection holds is not revoked.
    const account = JSON.stringify({ sub: `sub-${flow}`, email: "grace@example.com" });
    const browser = new PageBrowser();
    const { leftFor } = await browser.click(await browser.continueTo(connectUrl), "Connect Google");
    const page = await throughProvider(browser, leftFor!, { mock_flow: flow, mock_account: account });
    const connectionId = page.url.searchParams.get("connection_id")!;
    const back = await browser.click(page, "Disconnect Google (grace@example.com)");
    expect(back.status).toBe(200);
    expect(textOf(back.html)).toContain("Google is disconnected.");
    expect(buttonNames(back)).toEqual(["Connect Google"]);
    expect((await service.call(userId, `/v1/connections/${connectionId}`)).status).toBe(404);
    expect((await mockProvider.flowState(flow)).revocations).toBe(1);
    const removals = await service.auditEvents(userId, "connection.removed");
    expect(removals).toHaveLength(1);
    expect(removals[0]).toMatchObject({ outcome: "success", actor: "user", connection_id: connectionId });
  });

  it("will not disconnect an account of a provider the session does not offer", async () => {
    const { userId, connectUrl } = await newSession("page-not-offered", { providers: ["google"] });
    const notion = await seedConnection({ userId, provider: "notion" });
    const browser = new PageBrowser();
    const page = await browser.continueTo(connectUrl);
    const answer = await browser.submit(new URL(`${page.url.pathname}/disconnect`, WORKER_ORIGIN), {
      offer: "provider:google",
      connection_id: notion.id,
    });
    expect(answer.status).toBe(303);
    expect((await service.call(userId, `/v1/connections/${notion.id}`)).status).toBe(200);
  });

  it("refuses a form naming something the session does not offer with a page that says so", async () => {
    const { connectUrl } = await newSession("page-bad-offer", { providers: ["google"] });
    const browser = new PageBrowser();
    const page = await browser.continueTo(connectUrl);
    const answer = await browser.submit(new URL(`${page.url.pathname}/start`, WORKER_ORIGIN), { offer: "provider:notion" });
    expect(answer.status).toBe(400);
    expect(answer.headers.get("content-type")).toMatch(/^text\/html/);
    expect(textOf(await answer.text())).toContain("This request cannot be handled");
  });

  it("activates an integration at once when the account already holds its scopes", async () => {
    const { userId, connectUrl } = await newSession("page-activate", { integrations: ["google-calendar"] });
    await seedConnection({ userId, provider: "google", accountEmail: "ada@example.com", scopes: `openid email ${CALENDAR}` });
    const browser = new PageBrowser();
    const back = await browser.click(await browser.continueTo(connectUrl), "Connect Google Calendar");
    expect(back.leftFor).toBeNull();
    expect(textOf(back.html)).toContain("Connected as ada@example.com.");
    expect(buttonNames(back)).toEqual(["Disconnect Google Calendar (ada@example.com)"]);
    const { integrations } = await service.json<{ integrations: { key: string; status: string }[] }>(userId, "/v1/integrations");
    expect(integrations.find((integration) => integration.key === "google-calendar")?.status).toBe("active");
  });

  it("starts a new flow for an integration when the user has several accounts of its provider and named none", async () => {
    const { userId, connectUrl } = await newSession("page-several", { integrations: ["google-calendar"] });
    await seedConnection({ userId, provider: "google", accountEmail: "one@example.com" });
    await seedConnection({ userId, provider: "google", accountEmail: "two@example.com" });
    const browser = new PageBrowser();
    const { leftFor } = await browser.click(await browser.continueTo(connectUrl), "Connect Google Calendar");
    const authorize = await browser.follow(leftFor!, { stopBefore: () => true });
    expect(authorize.stoppedAt!.searchParams.get("scope")?.split(" ")).toContain(CALENDAR);
  });

  it("Done leads to return_to; without one, to a page that says the visit is over", async () => {
    const withReturn = await new PageBrowser().continueTo(
      (await newSession("page-done", { return_to: "https://app.example.com/settings" })).connectUrl,
    );
    expect(withReturn.html).toMatch(/<a class="button" href="https:\/\/app\.example\.com\/settings" data-done="">Done<\/a>/);
    const browser = new PageBrowser();
    const without = await browser.continueTo((await newSession("page-done-none")).connectUrl);
    const done = await browser.open(`${without.url.pathname}/done`);
    expect(done.status).toBe(200);
    expect(textOf(done.html)).toContain("You can close this window and return to the application.");
  });

  it("is served with a strict CSP without form-action, COOP unsafe-none and no-store, refusals included", async () => {
    const { connectUrl } = await newSession("page-headers");
    const browser = new PageBrowser();
    const landing = await browser.request(connectUrl);
    const page = await browser.request(new URL((await browser.continueTo(connectUrl)).url));
    const refused = await new PageBrowser().request(page.url);
    for (const response of [landing, page, refused]) {
      const policy = response.headers.get("content-security-policy")!;
      expect(policy).toBe(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
      );
      expect(policy).not.toContain("form-action");
      expect(response.headers.get("cross-origin-opener-policy")).toBe("unsafe-none");
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(response.headers.get("referrer-policy")).toBe("no-referrer");
      expect(await response.text()).not.toMatch(/<script>|<style|style="|https?:\/\/(?!app\.example\.com)/);
    }
  });

  it("speaks the session's locale: German for de", async () => {
    const { connectUrl } = await newSession("page-german", { providers: ["google"], locale: "de-CH", end_user: { display_name: "Ada" } });
    const browser = new PageBrowser();
    const landing = await browser.open(connectUrl);
    expect(landing.html).toMatch(/<html lang="de">/);
    expect(textOf(landing.html)).toContain("Konten verbinden für Ada");
    const page = await browser.click(landing, "Weiter");
    expect(buttonNames(page)).toEqual(["Google verbinden"]);
    expect(textOf(page.html)).toContain("Fertig");
  });

  it("follows the browser's language when the session names none the pages speak", async () => {
    const { connectUrl } = await newSession("page-accept-language", { locale: "fr" });
    const browser = new PageBrowser(callWorker, { headers: { "accept-language": "fr-CA, de;q=0.8, en;q=0.5" } });
    expect(textOf((await browser.open(connectUrl)).html)).toContain("Konten verbinden");
  });

  it("with opener_origin, loads the opener script and hands it the result for the opener; without, loads no script", async () => {
    const { userId, connectUrl } = await newSession("page-opener", {
      integrations: ["google-calendar"],
      opener_origin: "https://app.example.com",
    });
    const connection = await seedConnection({ userId, provider: "google", scopes: `openid email ${CALENDAR}` });
    const browser = new PageBrowser();
    const page = await browser.continueTo(connectUrl);
    expect(page.html).toContain('<script src="/connect/assets/opener.js" defer=""></script>');
    expect(page.html).toContain('data-opener-origin="https://app.example.com"');
    expect(page.html).not.toContain("data-opener-message");
    const back = await browser.click(page, "Connect Google Calendar");
    const message = /data-opener-message="([^"]*)"/.exec(back.html)![1]!.replace(/&quot;/g, '"');
    expect(JSON.parse(message)).toEqual({
      type: "connect.connected",
      provider: "google",
      integration: "google-calendar",
      connection_id: connection.id,
    });

    const plain = await new PageBrowser().continueTo((await newSession("page-no-opener")).connectUrl);
    expect(plain.html).not.toContain("<script");
    expect(plain.html).not.toContain("data-opener");
  });

  it("names a connected account only when the page's query names one the user holds", async () => {
    const { connectUrl } = await newSession("page-forged-result", { providers: ["google"] });
    const someoneElse = await seedConnection({ userId: "someone-else", provider: "google", accountEmail: "victim@example.com" });
    const browser = new PageBrowser();
    const page = await browser.continueTo(connectUrl);
    const forged = await browser.open(`${page.url.pathname}?offer=provider:google&status=connected&connection_id=${someoneElse.id}`);
    expect(forged.status).toBe(200);
    expect(forged.html).not.toContain("victim@example.com");
    expect(forged.html).not.toContain('role="status"');
  });
});

describe("the page's assets", () => {
  it("are files of the service's own origin; the script addresses only the opener origin, never *", async () => {
    const script = await new PageBrowser().request(new URL("/connect/assets/opener.js", WORKER_ORIGIN));
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    const source = await script.text();
    expect(source).toContain("postMessage(message, origin)");
    expect(source).not.toContain('"*"');
    const stylesheet = await new PageBrowser().request(new URL("/connect/assets/page.css", WORKER_ORIGIN));
    expect(stylesheet.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect(await stylesheet.text()).toContain("prefers-color-scheme: dark");
  });
});
