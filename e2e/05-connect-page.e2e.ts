/**
 * The connect page in a real browser: Debian's chromium (playwright-core) against `wrangler dev` and the local
 * oidc-provider's own sign-in and consent pages. A person opens the link, continues, connects an account and
 * disconnects it; another browser is refused; a popup reports to its opener only; axe finds no serious or critical
 * accessibility violation. `E2E_SCREENSHOT=docs/connect-page.png` saves the page as the README shows it.
 */
import { AxeBuilder } from "@axe-core/playwright";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Connection } from "../test/support/api-client";
import { LOCAL_OIDC_ID } from "../test/support/bindings";
import { newUserId } from "../test/support/users";
import { launchChromium } from "./support/chromium";
import { apiJson, connectSession, endpoints, RETURN_TO_ORIGIN } from "./support/service";

const PAGE_PATH = /\/connect\/[A-Za-z0-9_-]{43}(\?|$)/;
const ON_A_PHONE = { width: 412, height: 915 };

let chromium: Browser;

beforeAll(async () => {
  chromium = await launchChromium();
});

afterAll(async () => {
  await chromium?.close();
});

/** A fresh browser profile: its own cookies, as another person's browser would have. */
async function newPerson(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await chromium.newContext({ viewport: ON_A_PHONE });
  return { context, page: await context.newPage() };
}

/** Signs in as `account` on the issuer's own pages and allows access. */
async function signInAndAllow(page: Page, account: string): Promise<void> {
  await page.waitForURL((url) => url.origin === endpoints().oidcIssuer);
  await page.getByLabel("Account").fill(account);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Allow" }).click();
  await page.waitForURL((url) => url.origin === endpoints().serviceOrigin && PAGE_PATH.test(url.pathname + url.search));
}

/** The serious and critical violations axe finds on the page, by rule. */
async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`);
}

describe("the connect page in chromium", () => {
  const userId = newUserId("page-e2e");
  // The issuer starts empty for each run, so a readable account id is its own (the popup uses another).
  const account = "ada.lovelace";
  const email = `${account}@example.com`;
  let connectUrl: string;
  let person: { context: BrowserContext; page: Page };

  beforeAll(async () => {
    ({ connect_url: connectUrl } = await connectSession(userId, {
      providers: [LOCAL_OIDC_ID, "google", "notion"],
      return_to: `${RETURN_TO_ORIGIN}/settings`,
      end_user: { display_name: "Ada Lovelace" },
    }));
    person = await newPerson();
  });

  afterAll(async () => {
    await person?.context.close();
  });

  it("opens the link, continues, connects at the issuer's own sign-in and consent pages, and comes back showing the account", async () => {
    const { page } = person;
    await page.goto(connectUrl);
    expect(await page.getByText("Connecting accounts for Ada Lovelace").count()).toBe(1);
    await page.getByRole("button", { name: "Continue" }).click();
    await page.waitForURL(PAGE_PATH);
    expect(page.url()).not.toContain(new URL(connectUrl).searchParams.get("session")!);

    await page.getByRole("button", { name: "Connect Local OpenID Provider" }).click();
    await signInAndAllow(page, account);

    expect(await page.getByRole("status").innerText()).toBe(`Connected as ${email}.`);
    await page.getByRole("button", { name: `Disconnect Local OpenID Provider (${email})` }).waitFor();
    const { connections } = await apiJson<{ connections: Connection[] }>(userId, "/v1/connections");
    expect(connections.map((connection) => [connection.provider, connection.account.id])).toEqual([[LOCAL_OIDC_ID, account]]);
    expect(await page.getByRole("link", { name: "Done" }).getAttribute("href")).toBe(`${RETURN_TO_ORIGIN}/settings`);
  });

  it("has no serious or critical accessibility violation (axe), in light and in dark", async () => {
    const { page } = person;
    expect(await seriousViolations(page)).toEqual([]);
    if (process.env.E2E_SCREENSHOT) await page.screenshot({ path: process.env.E2E_SCREENSHOT, fullPage: true });
    await page.emulateMedia({ colorScheme: "dark" });
    expect(await seriousViolations(page)).toEqual([]);
    await page.emulateMedia({ colorScheme: "light" });
  });

  it("refuses a second browser that opens the same link, with a page that says so", async () => {
    const other = await newPerson();
    try {
      await other.page.goto(connectUrl);
      const refusal = other.page.waitForResponse((response) => response.request().method() === "POST");
      await other.page.getByRole("button", { name: "Continue" }).click();
      expect((await refusal).status()).toBe(403);
      await other.page.getByRole("heading", { name: "This link is open in another browser" }).waitFor();
      expect(await other.page.getByRole("button").count()).toBe(0);
      expect(await seriousViolations(other.page)).toEqual([]);
    } finally {
      await other.context.close();
    }
  });

  it("disconnects the account from the page", async () => {
    const { page } = person;
    await page.getByRole("button", { name: `Disconnect Local OpenID Provider (${email})` }).click();
    await page.waitForURL(/status=disconnected/);
    expect(await page.getByRole("status").innerText()).toBe("Local OpenID Provider is disconnected.");
    await page.getByRole("button", { name: "Connect Local OpenID Provider" }).waitFor();
    expect((await apiJson<{ connections: Connection[] }>(userId, "/v1/connections")).connections).toEqual([]);
  });
});

/** A message as the opener's listener recorded it. */
interface Received {
  origin: string;
  data: unknown;
}

/**
 * The few browser globals the page scripts below touch (the project's types are Node's; these callbacks run in
 * chromium, where `globalThis` is the window).
 */
interface OpenerWindow {
  received: Received[];
  opener: { postMessage(message: unknown, targetOrigin: string): void };
  open(url: string, target: string, features: string): unknown;
  addEventListener(type: "message", listener: (event: Received) => void): void;
}

describe("the connect page as a popup", () => {
  /** Opens a window of `origin` that records the messages it receives, and from it the connect link as a popup. */
  async function openPopup(origin: string, link: string): Promise<{ opener: Page; popup: Page; context: BrowserContext }> {
    const { context, page: opener } = await newPerson();
    await opener.goto(`${origin}/settings`);
    await opener.evaluate(() => {
      const window = globalThis as unknown as OpenerWindow;
      window.received = [];
      window.addEventListener("message", (event) => window.received.push({ origin: event.origin, data: event.data }));
    });
    const [popup] = await Promise.all([
      opener.waitForEvent("popup"),
      opener.evaluate((url) => void (globalThis as unknown as OpenerWindow).open(url, "connect", "popup,width=480,height=720"), link),
    ]);
    await popup.getByRole("button", { name: "Continue" }).click();
    await popup.waitForURL(PAGE_PATH);
    return { opener, popup, context };
  }

  function received(opener: Page): Promise<Received[]> {
    return opener.evaluate(() => (globalThis as unknown as OpenerWindow).received);
  }

  /**
   * Once every message the page's own script posted has been delivered: a marker the popup posts after its load event
   * arrives after them (messages from one window to another are delivered in the order they were posted).
   */
  async function afterPagesMessages(opener: Page, popup: Page): Promise<Received[]> {
    await popup.waitForLoadState("load");
    await popup.evaluate(() => (globalThis as unknown as OpenerWindow).opener.postMessage("marker", "*"));
    await opener.waitForFunction(() => (globalThis as unknown as OpenerWindow).received.some((message) => message.data === "marker"));
    return (await received(opener)).filter((message) => message.data !== "marker");
  }

  it("tells its opener about the connection, from the page's origin only, and Done closes it with connect.closed", async () => {
    const userId = newUserId("popup-e2e");
    const account = `pop-${crypto.randomUUID().slice(0, 8)}`;
    const { connect_url } = await connectSession(userId, { providers: [LOCAL_OIDC_ID], opener_origin: endpoints().appOrigin });
    const { opener, popup, context } = await openPopup(endpoints().appOrigin, connect_url);
    try {
      await popup.getByRole("button", { name: "Connect Local OpenID Provider" }).click();
      await signInAndAllow(popup, account);
      const { connections } = await apiJson<{ connections: Connection[] }>(userId, "/v1/connections");
      expect(await afterPagesMessages(opener, popup)).toEqual([
        {
          origin: endpoints().serviceOrigin,
          data: { type: "connect.connected", provider: LOCAL_OIDC_ID, connection_id: connections[0]!.id },
        },
      ]);

      const closed = popup.waitForEvent("close");
      await popup.getByRole("link", { name: "Done" }).click();
      await closed;
      await opener.waitForFunction(() => (globalThis as unknown as OpenerWindow).received.length === 3);
      expect((await received(opener)).at(-1)).toEqual({ origin: endpoints().serviceOrigin, data: { type: "connect.closed" } });
    } finally {
      await context.close();
    }
  });

  it("tells a window of any other origin nothing", async () => {
    const userId = newUserId("popup-other-e2e");
    const { connect_url } = await connectSession(userId, { providers: [LOCAL_OIDC_ID], opener_origin: endpoints().appOrigin });
    const { opener, popup, context } = await openPopup(endpoints().otherSiteOrigin, connect_url);
    try {
      // A result the page reports on load (it names no account, so none needs to exist).
      await popup.goto(`${popup.url()}?offer=provider:${LOCAL_OIDC_ID}&status=disconnected&connection_id=conn_e2e`);
      expect(await popup.getByRole("status").innerText()).toBe("Local OpenID Provider is disconnected.");
      expect(await afterPagesMessages(opener, popup)).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
