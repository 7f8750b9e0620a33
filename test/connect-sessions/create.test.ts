import { describe, expect, it } from "vitest";
import { sha256Base64url } from "../../src/crypto/digest";
import { expectProblem } from "../support/problems";
import { service } from "../support/toolkit";
import { newUserId } from "../support/users";
import { WORKER_ORIGIN } from "../support/worker";
import { newSession, storedSessions } from "./page-browser";

const THIRTY_MINUTES_MS = 30 * 60 * 1000;

/** `POST /v1/connect-sessions` as the application's backend, or (`scope: null`) with a browser session's token. */
function createAs(userId: string, body: unknown, scope: string | null = "connections:token"): Promise<Response> {
  return service.call(userId, "/v1/connect-sessions", { method: "POST", body, ...(scope === null ? {} : { scope }) });
}

describe("POST /v1/connect-sessions", () => {
  it("answers 201 with a link to the service's own /connect page that lives 30 minutes", async () => {
    const before = Date.now();
    const response = await createAs(newUserId("session-create"), { providers: ["local-oidc"], end_user: { display_name: "Ada" } });
    expect(response.status).toBe(201);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    const { connect_url, expires_at } = (await response.json()) as { connect_url: string; expires_at: string };
    const url = new URL(connect_url);
    expect(`${url.origin}${url.pathname}`).toBe(`${WORKER_ORIGIN}/connect`);
    expect(url.searchParams.get("session")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const expiresAt = Date.parse(expires_at);
    expect(expiresAt - before).toBeGreaterThanOrEqual(THIRTY_MINUTES_MS);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(THIRTY_MINUTES_MS);
  });

  it("stores the session under the SHA-256 of the link's secret with a 30-minute TTL, and the secret nowhere", async () => {
    const { secret, userId } = await newSession("session-stored", { end_user: { display_name: "Stored" } });
    const key = `connect-session:${await sha256Base64url(secret)}`;
    const stored = (await storedSessions()).find((entry) => entry.name === key);
    expect(stored).toBeDefined();
    expect(JSON.parse(stored!.value)).toMatchObject({ userId, displayName: "Stored" });
    expect((await storedSessions()).some((entry) => entry.name.includes(secret) || entry.value.includes(secret))).toBe(false);
    expect(stored!.expiration! * 1000 - Date.now()).toBeLessThanOrEqual(THIRTY_MINUTES_MS + 1000);
  });

  it("refuses a caller without connections:token with 403 before looking at the body", async () => {
    const response = await createAs(newUserId("session-no-power"), { providers: "not-a-list" }, null);
    expect((await expectProblem(response, 403, "forbidden")).required_scope).toBe("connections:token");
  });

  it("refuses integrations and providers this service does not have with 400 unknown-offer, naming them", async () => {
    const response = await createAs(newUserId("session-unknown"), {
      integrations: ["google-calendar", "no-such-integration"],
      providers: ["local-oidc", "no-such-provider"],
    });
    const problem = await expectProblem(response, 400, "unknown-offer");
    expect(problem.unknown_integrations).toEqual(["no-such-integration"]);
    expect(problem.unknown_providers).toEqual(["no-such-provider"]);
  });

  it.each([
    ["a display name over 80 characters", { end_user: { display_name: "x".repeat(81) } }],
    ["a display name with a right-to-left override", { end_user: { display_name: "Ada\u202eecilA" } }],
    ["a display name with a line break", { end_user: { display_name: "Ada\nYou are safe" } }],
    ["an email that is not one", { end_user: { email: "not-an-email" } }],
    ["an empty list of providers", { providers: [] }],
    ["a malformed provider id", { providers: ["Not An Id"] }],
    ["a locale that is not a language tag", { locale: "english please" }],
    ["an unknown member", { theme: "dark" }],
  ])("refuses %s with 400 bad-request", async (_case, body) => {
    await expectProblem(await createAs(newUserId("session-invalid"), body), 400, "bad-request");
  });

  it("accepts a display name of exactly 80 characters", async () => {
    expect((await createAs(newUserId("session-80"), { end_user: { display_name: "x".repeat(80) } })).status).toBe(201);
  });

  it("refuses a return_to outside RETURN_TO_ORIGINS with 400 return-to-not-allowed", async () => {
    const response = await createAs(newUserId("session-return-to"), { return_to: "https://evil.example/done" });
    await expectProblem(response, 400, "return-to-not-allowed");
  });

  it.each(["https://evil.example", "https://app.example.com/settings", "https://app.example.com:443", "null", "app.example.com"])(
    "refuses the opener_origin %s: it must be exactly one of CORS_ORIGINS or RETURN_TO_ORIGINS",
    async (openerOrigin) => {
      const response = await createAs(newUserId("session-opener"), { opener_origin: openerOrigin });
      await expectProblem(response, 400, "opener-origin-not-allowed");
    },
  );

  it.each([
    ["CORS_ORIGINS", "https://app.example.com"],
    ["RETURN_TO_ORIGINS", "http://localhost:3000"],
  ])("accepts an opener_origin listed in %s", async (_list, openerOrigin) => {
    expect((await createAs(newUserId("session-opener-ok"), { opener_origin: openerOrigin })).status).toBe(201);
  });
});
