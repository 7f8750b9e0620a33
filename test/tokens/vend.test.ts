/** `POST /v1/connections/{id}/token` (DESIGN.md, "Vending outcomes"): the hot path, its refusals and its audit. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { expectProblem } from "../support/problems";
import {
  ageStoredToken,
  connectMock,
  expireStoredToken,
  storedPlaintext,
  storedRow,
  vendOk,
  waitForAudit,
  watchVaultRefreshes,
} from "../support/refresh-fixtures";
import { mockProvider, service } from "../support/toolkit";
import { newUserId } from "../support/users";

describe("vending a stored token", () => {
  it("refuses a caller without the connections:token scope with 403", async () => {
    const google = await connectMock("google", "vend-no-power");
    // The caller JWT carries no scope claim at all.
    const response = await service.vend(google.userId, google.connectionId, {}, {});
    const problem = await expectProblem(response, 403, "forbidden");
    expect(problem.required_scope).toBe("connections:token");
    expect(JSON.stringify(problem)).not.toMatch(/ya29\./);
  });

  it("refuses a caller whose token carries other powers but not connections:token", async () => {
    const google = await connectMock("google", "vend-admin-only");
    await expectProblem(await service.vend(google.userId, google.connectionId, {}, { scope: "admin" }), 403, "forbidden");
  });

  it("answers 404 for another user's connection and leaves it untouched", async () => {
    const google = await connectMock("google", "vend-owner");
    await expireStoredToken(google.connectionId);
    const before = await storedRow(google.connectionId);
    await expectProblem(await service.vend(newUserId("intruder"), google.connectionId), 404, "not-found");
    expect(await storedRow(google.connectionId)).toEqual(before);
    expect(await mockProvider.refreshGrants(google.flow)).toEqual([]);
  });

  it("answers 404 for a connection id that does not exist", async () => {
    await expectProblem(await service.vend(newUserId("nobody"), "conn_doesnotexist0000000"), 404, "not-found");
  });

  it("returns the stored token with Cache-Control: no-store and calls no provider endpoint", async () => {
    const google = await connectMock("google", "vend-hot");
    const logged = (await mockProvider.requests({ flow: google.flow })).length;
    const vault = await watchVaultRefreshes(google.userId);
    const response = await service.vend(google.userId, google.connectionId);
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    const body = (await response.json()) as { access_token: string; token_type: string; expires_at: string; scopes: string[] };
    const issued = (await mockProvider.flowState(google.flow)).access_tokens.map((token) => token.token);
    expect(issued).toHaveLength(1);
    expect(body.access_token).toBe(issued[0]);
    expect(body.token_type).toBe("Bearer");
    expect(new Date(body.expires_at).getTime()).toBe((await storedRow(google.connectionId)).access_token_expires_at);
    expect(body.scopes).toEqual(expect.arrayContaining(["openid"]));
    expect((await mockProvider.requests({ flow: google.flow })).length).toBe(logged);
    expect(vault.calls()).toBe(0);
  });

  it("refreshes when min_validity_seconds asks for more life than the stored token has left", async () => {
    const google = await connectMock("google", "vend-min-validity");
    // Issued with Google's 3,599 seconds, 600 of them left.
    await ageStoredToken(google.connectionId, 2999_000);
    const stored = await storedPlaintext(google, "access_token");
    const token = await vendOk(google, { min_validity_seconds: 900 });
    expect(token.access_token).not.toBe(stored);
    expect(await mockProvider.refreshGrants(google.flow)).toHaveLength(1);
    expect(await storedPlaintext(google, "access_token")).toBe(token.access_token);
  });

  it("does not refresh when the stored token lives longer than min_validity_seconds", async () => {
    const google = await connectMock("google", "vend-min-validity-ok", { expiresIn: 600 });
    const stored = await storedPlaintext(google, "access_token");
    const vault = await watchVaultRefreshes(google.userId);
    expect((await vendOk(google, { min_validity_seconds: 500 })).access_token).toBe(stored);
    expect(await mockProvider.refreshGrants(google.flow)).toEqual([]);
    expect(vault.calls()).toBe(0);
  });

  it("accepts min_validity_seconds of 1,800, the most it allows", async () => {
    const google = await connectMock("google", "vend-min-validity-max");
    const stored = await storedPlaintext(google, "access_token");
    expect((await vendOk(google, { min_validity_seconds: 1800 })).access_token).toBe(stored);
  });

  it("refreshes an expired token and stores the new one", async () => {
    const google = await connectMock("google", "vend-expired");
    await expireStoredToken(google.connectionId);
    const before = Date.now();
    const token = await vendOk(google);
    expect(await mockProvider.refreshGrants(google.flow)).toHaveLength(1);
    const row = await storedRow(google.connectionId);
    expect(await storedPlaintext(google, "access_token")).toBe(token.access_token);
    expect(row.access_token_expires_at).toBeGreaterThan(before + 3000_000);
    expect(row.last_refreshed_at).toBeGreaterThanOrEqual(before);
    expect(token.expires_at).toBe(new Date(row.access_token_expires_at!).toISOString());
  });

  it("answers 403 with missing_scopes when a required scope was not granted", async () => {
    const google = await connectMock("google", "vend-scopes");
    const response = await service.vend(google.userId, google.connectionId, {
      required_scopes: ["openid", "https://www.googleapis.com/auth/drive.readonly"],
    });
    const problem = await expectProblem(response, 403, "insufficient-scope");
    expect(problem.missing_scopes).toEqual(["https://www.googleapis.com/auth/drive.readonly"]);
  });

  it("vends when every required scope was granted", async () => {
    const google = await connectMock("google", "vend-scopes-ok");
    const token = await vendOk(google, { required_scopes: ["openid"] });
    expect(token.scopes).toContain("openid");
  });

  it.each([
    ["a still-valid token", {}],
    ["force_refresh", { force_refresh: true }],
  ])(
    "answers 409 with connection_status needs_reauth for a connection that needs re-authorization (%s), without calling the provider",
    async (_case, body) => {
      const google = await connectMock("google", "vend-reauth");
      await env.DB.prepare("UPDATE connections SET status = 'needs_reauth', status_reason = 'invalid_grant' WHERE id = ?")
        .bind(google.connectionId)
        .run();
      const problem = await expectProblem(await service.vend(google.userId, google.connectionId, body), 409, "needs-reauth");
      expect(problem.connection_status).toBe("needs_reauth");
      expect(JSON.stringify(problem)).not.toMatch(/ya29\.|1\/\/mock-/);
      expect(await mockProvider.refreshGrants(google.flow)).toEqual([]);
    },
  );

  it.each([
    ["an unknown field", { min_validity_seconds: 60, scope: "openid" }],
    ["min_validity_seconds as a string", { min_validity_seconds: "300" }],
    ["a fractional min_validity_seconds", { min_validity_seconds: 1.5 }],
    ["a negative min_validity_seconds", { min_validity_seconds: -1 }],
    // Above 1,800 a value would force a refresh on every call for Google's 3,599-second tokens.
    ["a min_validity_seconds above 1,800", { min_validity_seconds: 1801 }],
    ["force_refresh as a string", { force_refresh: "yes" }],
    ["an empty rejected_token", { rejected_token: "" }],
    ["rejected_token as a number", { rejected_token: 42 }],
    ["required_scopes as a string", { required_scopes: "openid" }],
    ["a required scope with a space", { required_scopes: ["openid email"] }],
    ["an array body", [{ force_refresh: true }]],
  ])("refuses a body with %s with a 400 problem and does not refresh", async (_case, body) => {
    const google = await connectMock("google", "vend-bad-body");
    await expireStoredToken(google.connectionId);
    // Sent as JSON text as it is: these bodies are no `VendBody`.
    await expectProblem(await service.vend(google.userId, google.connectionId, JSON.stringify(body)), 400, "bad-request");
    expect(await mockProvider.refreshGrants(google.flow)).toEqual([]);
  });

  it("refuses a body that is not JSON with a 400 problem", async () => {
    const google = await connectMock("google", "vend-not-json");
    await expectProblem(await service.vend(google.userId, google.connectionId, '{"force_refresh": tru'), 400, "bad-request");
  });
});

describe("the vend audit", () => {
  it("records a vend from the stored token with refreshed false and without the token", async () => {
    const google = await connectMock("google", "vend-audit-hot");
    const token = await vendOk(google);
    const [event] = await waitForAudit(google.userId, "token.vended");
    expect(event).toMatchObject({ outcome: "success", actor: "backend", detail: { refreshed: false } });
    expect(event!.raw).not.toContain(token.access_token);
    expect(event!.raw).not.toContain(await storedPlaintext(google, "refresh_token"));
  });

  it("records a vend that refreshed with refreshed true and without either token", async () => {
    const google = await connectMock("google", "vend-audit-refreshed");
    await expireStoredToken(google.connectionId);
    const token = await vendOk(google);
    const [event] = await waitForAudit(google.userId, "token.vended");
    expect(event).toMatchObject({ outcome: "success", detail: { refreshed: true } });
    expect(event!.raw).not.toContain(token.access_token);
    expect(event!.raw).not.toContain(await storedPlaintext(google, "refresh_token"));
  });

  it("records a refused vend as a failure with its reason", async () => {
    const google = await connectMock("google", "vend-audit-refused");
    await service.vend(google.userId, google.connectionId, { required_scopes: ["https://www.googleapis.com/auth/drive"] });
    const [event] = await waitForAudit(google.userId, "token.vended");
    expect(event).toMatchObject({ outcome: "failure", detail: { reason: "missing_scopes" } });
  });
});

describe("a token issued with a shorter life than min_validity_seconds", () => {
  it("is refreshed at most once per half-life however often it is vended (120-second tokens)", async () => {
    const google = await connectMock("google", "vend-short-lived", { expiresIn: 120 });
    await mockProvider.scriptTokenResponses(google.flow, [{ expires_in: 120 }, { expires_in: 120 }]);

    for (let call = 0; call < 5; call += 1) await vendOk(google);
    expect(await mockProvider.refreshGrants(google.flow)).toEqual([]);

    // 61 seconds on: less than half of its 120-second life remains.
    await ageStoredToken(google.connectionId, 61_000);
    const tokens = new Set<string>();
    for (let call = 0; call < 5; call += 1) tokens.add((await vendOk(google)).access_token);
    expect(await mockProvider.refreshGrants(google.flow)).toHaveLength(1);
    expect(tokens).toEqual(new Set([await storedPlaintext(google, "access_token")]));

    // Another 61 seconds: the refreshed token is past its own half-life.
    await ageStoredToken(google.connectionId, 61_000);
    for (let call = 0; call < 5; call += 1) await vendOk(google);
    expect(await mockProvider.refreshGrants(google.flow)).toHaveLength(2);
  });

  it("still refreshes when less than min_validity_seconds remains of a token issued with a longer life", async () => {
    const google = await connectMock("google", "vend-long-lived", { expiresIn: 3599 });
    await ageStoredToken(google.connectionId, 3400_000);
    await vendOk(google);
    expect(await mockProvider.refreshGrants(google.flow)).toHaveLength(1);
  });
});

describe("a Notion token, whose expiry is unknown", () => {
  it("is stored with no expiry and vended from the stored copy, however often, without refreshing", async () => {
    const notion = await connectMock("notion", "vend-notion-hot");
    expect((await storedRow(notion.connectionId)).access_token_expires_at).toBeNull();
    const stored = await storedPlaintext(notion, "access_token");
    const vault = await watchVaultRefreshes(notion.userId);
    for (let call = 0; call < 5; call += 1) {
      const token = await vendOk(notion, { min_validity_seconds: 1800 });
      expect(token).toMatchObject({ access_token: stored, expires_at: null });
    }
    expect(await mockProvider.refreshGrants(notion.flow)).toEqual([]);
    expect(vault.calls()).toBe(0);
  });

  it("is refreshed on force_refresh", async () => {
    const notion = await connectMock("notion", "vend-notion-force");
    const stored = await storedPlaintext(notion, "access_token");
    const token = await vendOk(notion, { force_refresh: true });
    expect(token.access_token).not.toBe(stored);
    expect(token.expires_at).toBeNull();
    expect(await mockProvider.refreshGrants(notion.flow)).toHaveLength(1);
  });

  it("is refreshed when a caller reports it rejected", async () => {
    const notion = await connectMock("notion", "vend-notion-rejected");
    const stored = await storedPlaintext(notion, "access_token");
    const token = await vendOk(notion, { rejected_token: stored });
    expect(token.access_token).not.toBe(stored);
    expect(await mockProvider.refreshGrants(notion.flow)).toHaveLength(1);
    expect(await storedPlaintext(notion, "access_token")).toBe(token.access_token);
  });
});
