/**
 * The OAuth callback for a person: a browser (`Accept: text/html`) that lands on it without a return_to gets each
 * outcome as a readable page with the status the JSON answer has; API clients keep getting JSON.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { LOCAL_OIDC_ID } from "../support/bindings";
import { Browser } from "../support/browser";
import { authorizeInBrowser, finishInBrowser } from "../support/connect-flow";
import { newOidcAccount } from "../support/oidc-control";
import { expectProblem } from "../support/problems";
import { service } from "../support/toolkit";
import { newUserId } from "../support/users";
import { callWorker } from "../support/worker";
import { textOf } from "../connect-sessions/page-browser";

/** What Chromium sends with a navigation. */
const NAVIGATION_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

function person(headers: Record<string, string> = {}): Browser {
  return new Browser(callWorker, { headers: { accept: NAVIGATION_ACCEPT, ...headers } });
}

async function expectPage(response: Response, status: number, ...texts: string[]): Promise<string> {
  const html = await response.text();
  expect(response.status, html).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^text\/html/);
  expect(response.headers.get("location")).toBeNull();
  expect(response.headers.get("cross-origin-opener-policy")).toBe("unsafe-none");
  expect(response.headers.get("content-security-policy")).toContain("default-src 'none'");
  expect(response.headers.get("cache-control")).toBe("no-store");
  for (const text of texts) expect(textOf(html)).toContain(text);
  return html;
}

/** The callback of a flow for a new user at `provider`, requested by `browser`. */
async function callbackIn(browser: Browser, provider: string, providerParams: Record<string, string>, body = {}): Promise<Response> {
  const { authorization_url } = await service.beginConnect(newUserId("callback-page"), provider, body);
  return (await finishInBrowser(browser, authorization_url, providerParams)).callback;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("the callback for a person", () => {
  it("shows a connected account as a page with 200, and the API client still gets the connection as JSON", async () => {
    const account = newOidcAccount();
    await expectPage(
      await callbackIn(person(), LOCAL_OIDC_ID, { login_hint: account }),
      200,
      "Account connected",
      `Local OpenID Provider is connected as ${account}@example.com.`,
      "You can close this window",
    );
    const json = await callbackIn(new Browser(), LOCAL_OIDC_ID, { login_hint: newOidcAccount() });
    expect(json.status).toBe(200);
    expect(json.headers.get("content-type")).toMatch(/^application\/json/);
  });

  it("shows a declined authorization with 400 and what to do next; the API client gets authorization-failed", async () => {
    await expectPage(
      await callbackIn(person(), "google", { mock_error: "access_denied" }),
      400,
      "You declined access",
      "Nothing was connected.",
      "start again from the application",
    );
    await expectProblem(await callbackIn(new Browser(), "google", { mock_error: "access_denied" }), 400, "authorization-failed");
  });

  it("shows another refusal by the provider with its code", async () => {
    await expectPage(
      await callbackIn(person(), "google", { mock_error: "unauthorized_client" }),
      400,
      'Google answered "unauthorized_client"',
    );
  });

  it("shows a failed code exchange with 502 as a sign-in that was not completed", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    await expectPage(
      await callbackIn(person(), "google", { mock_token_failure: "invalid_grant" }),
      502,
      "The sign-in was not completed",
      "Google did not finish the sign-in",
    );
  });

  it("shows an id_token that fails verification with 502 as a sign-in that could not be verified", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    await expectPage(await callbackIn(person(), "google", { mock_id_token: "wrong_aud" }), 502, "The sign-in could not be verified");
  });

  it("shows a partial grant with 403, naming the account that was connected with fewer permissions", async () => {
    await expectPage(
      await callbackIn(
        person(),
        "google",
        { mock_scope: "openid email profile" },
        { scopes: ["https://www.googleapis.com/auth/calendar.events"] },
      ),
      403,
      "Connected with fewer permissions",
      "Google is connected as ava@example.com",
    );
  });

  it("shows an unusable state (no binding cookie) with 400 and no redirect; the API client gets invalid-state", async () => {
    const { authorization_url } = await service.beginConnect(newUserId("callback-page-state"), LOCAL_OIDC_ID);
    const { callbackUrl } = await authorizeInBrowser(new Browser(), authorization_url, { login_hint: newOidcAccount() });
    await expectPage(await person().request(callbackUrl), 400, "This sign-in cannot be completed", "opened in another browser");
    await expectProblem(await new Browser().request(callbackUrl), 400, "invalid-state");
  });

  it("shows a start URL opened a second time as a page too", async () => {
    const { authorization_url } = await service.beginConnect(newUserId("callback-page-start"), LOCAL_OIDC_ID);
    expect((await person().request(authorization_url)).status).toBe(302);
    await expectPage(await person().request(authorization_url), 400, "This sign-in cannot be completed");
  });

  it("speaks the browser's language", async () => {
    await expectPage(
      await callbackIn(person({ "accept-language": "de-DE,de;q=0.9" }), "google", { mock_error: "access_denied" }),
      400,
      "Sie haben den Zugriff abgelehnt",
    );
  });

  it("still redirects a browser to return_to when the flow has one", async () => {
    const response = await callbackIn(person(), "google", { mock_error: "access_denied" }, { return_to: "https://app.example.com/done" });
    expect(response.status).toBe(302);
    expect(new URL(response.headers.get("location")!).searchParams.get("error")).toBe("access_denied");
  });

  it("answers the start and the callback with Cross-Origin-Opener-Policy: unsafe-none, so a popup keeps its opener", async () => {
    const { authorization_url } = await service.beginConnect(newUserId("callback-page-coop"), "google");
    const { startResponse, callbackUrl } = await authorizeInBrowser(new Browser(), authorization_url, {});
    expect(startResponse.headers.get("cross-origin-opener-policy")).toBe("unsafe-none");
    const refused = await new Browser().request(callbackUrl);
    expect(refused.headers.get("cross-origin-opener-policy")).toBe("unsafe-none");
  });
});
