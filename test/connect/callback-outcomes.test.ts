import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { appWithEnv } from "../support/app-with-env";
import { Browser } from "../support/browser";
import { authorizeInBrowser, connectAccount } from "../support/connect-flow";
import { expectProblem } from "../support/problems";
import { service } from "../support/toolkit";
import { newUserId } from "../support/users";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("callback outcomes", () => {
  it("a provider's refusal without return_to answers authorization-failed with the provider's code", async () => {
    const response = await connectAccount(service, new Browser(), newUserId("refused"), "google", {
      providerParams: { mock_error: "access_denied" },
    });
    expect((await expectProblem(response, 400, "authorization-failed")).error).toBe("access_denied");
  });

  it("a provider's refusal with return_to goes back there with the provider's code", async () => {
    const response = await connectAccount(service, new Browser(), newUserId("refused-return"), "google", {
      return_to: "https://app.example.com/connected",
      providerParams: { mock_error: "access_denied" },
    });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get("Location")!);
    expect(`${location.origin}${location.pathname}`).toBe("https://app.example.com/connected");
    expect(location.searchParams.get("error")).toBe("access_denied");
    expect(location.searchParams.has("status")).toBe(false);
  });

  it("a partial grant with return_to goes back there with the saved connection and the missing scopes", async () => {
    const calendar = "https://www.googleapis.com/auth/calendar.events";
    const response = await connectAccount(service, new Browser(), newUserId("partial-return"), "google", {
      scopes: ["openid", "email", calendar],
      return_to: "https://app.example.com/connected",
      providerParams: { mock_scope: "openid email profile" },
    });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get("Location")!);
    expect(location.searchParams.get("error")).toBe("scope_not_granted");
    expect(location.searchParams.get("connection_id")).toMatch(/\S/);
    expect(location.searchParams.get("missing_scopes")).toBe(calendar);
  });

  it("a failed exchange with return_to goes back there with the error and no connection", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const response = await connectAccount(service, new Browser(), newUserId("exchange-refused-return"), "google", {
      return_to: "https://app.example.com/connected",
      providerParams: { mock_token_failure: "invalid_grant" },
    });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get("Location")!);
    expect(location.searchParams.get("error")).toBe("exchange_failed");
    expect(location.searchParams.has("connection_id")).toBe(false);
    expect(location.searchParams.has("missing_scopes")).toBe(false);
  });

  it("a code exchange the provider refuses ends exchange_failed and is logged without the code", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const response = await connectAccount(service, new Browser(), newUserId("exchange-refused"), "google", {
      providerParams: { mock_token_failure: "invalid_grant" },
    });
    expect((await expectProblem(response, 502, "exchange-failed")).error).toBe("exchange_failed");
    const lines = warn.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
    expect(lines).toContainEqual(
      expect.objectContaining({ message: "code exchange failed", provider: "google", kind: "oauth_error", error: "invalid_grant" }),
    );
  });

  it("an id_token for another audience ends invalid_id_token and is logged", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const response = await connectAccount(service, new Browser(), newUserId("wrong-aud"), "google", {
      providerParams: { mock_id_token: "wrong_aud" },
    });
    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({ error: "invalid_id_token" });
    const lines = warn.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
    expect(lines).toContainEqual(
      expect.objectContaining({ message: "account identification failed", provider: "google", reason: "invalid_id_token" }),
    );
  });

  it("the callback of a flow whose provider lost its credentials meanwhile ends exchange_failed", async () => {
    const { authorization_url: startUrl } = await service.beginConnect(newUserId("lost-credentials"), "google");
    const browser = new Browser();
    const { callbackUrl } = await authorizeInBrowser(browser, startUrl);
    const withoutGoogle = { ...env, GOOGLE_CLIENT_ID: undefined, GOOGLE_CLIENT_SECRET: undefined } as unknown as Env;
    const cookie = browser.cookies.header(callbackUrl);

    const response = await appWithEnv(withoutGoogle)(callbackUrl.pathname + callbackUrl.search, { headers: cookie ? { cookie } : {} });

    expect((await expectProblem(response, 502, "exchange-failed")).error).toBe("exchange_failed");
  });
});
