/**
 * Failed refreshes, by class (DESIGN.md "Vending outcomes", reference/providers.md §5 "Retry policy"):
 * reauth (invalid_grant) ends the connection until the user connects again, operator (invalid_client) answers 502
 * and blames nobody, transient (429, 5xx, timeouts, drops, garbage) keeps the tokens and cools down.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { Provider } from "../../src/providers/provider";
import { createServices } from "../../src/services";
import { updateConnection } from "../../src/storage/connections";
import { refreshConnection } from "../../src/vault/refresh";
import type { VaultServices } from "../../src/vault/vault-services";
import { apiClient } from "../support/api-client";
import { LOCAL_OIDC_CLIENT } from "../support/bindings";
import type { MockBehaviour } from "../support/mock-provider-server/state";
import { expectProblem } from "../support/problems";
import {
  ageStoredToken,
  BROKEN_PROVIDER,
  brokenDiscoveryEnv,
  type Connected,
  connectLocalOidc,
  connectMock,
  endCooldown,
  expireStoredToken,
  interceptRefreshGrants,
  loseNextRefreshResponse,
  storedPlaintext,
  storedRow,
  vendOk,
  waitForAudit,
} from "../support/refresh-fixtures";
import { appWithEnv, useEnvInVault } from "../support/app-with-env";
import { captureLogs } from "../support/logs";
import { seedConnection } from "../support/seed-connections";
import { localOidc, mockProvider, service } from "../support/toolkit";
import { newUserId } from "../support/users";

/** What an operator failure logs (and `wrangler tail` is searched for); the tests capture it instead of printing it. */
const OPERATOR_REFRESH_FAILED = "OPERATOR ACTION NEEDED: the provider cannot refresh with this service's configuration";
const DISCOVERY_UNUSABLE = "OPERATOR ACTION NEEDED: OIDC discovery unusable";

/** A Google connection whose access token has expired and whose next refresh fails with `behaviour`. */
async function expiredGoogleFailingWith(label: string, behaviour: MockBehaviour): Promise<Connected> {
  const google = await connectMock("google", label);
  await expireStoredToken(google.connectionId);
  await mockProvider.scriptTokenResponses(google.flow, [behaviour]);
  return google;
}

describe("a refresh refused with invalid_grant", () => {
  it("answers 409 with connection_status needs_reauth", async () => {
    const google = await expiredGoogleFailingWith("fail-grant-409", { failure: "invalid_grant" });
    const problem = await expectProblem(await service.vend(google.userId, google.connectionId), 409, "needs-reauth");
    expect(problem.connection_status).toBe("needs_reauth");
  });

  it("marks the connection needs_reauth with the reason, keeping its tokens", async () => {
    const google = await expiredGoogleFailingWith("fail-grant-row", { failure: "invalid_grant" });
    const before = await storedRow(google.connectionId);
    await service.vend(google.userId, google.connectionId);
    const row = await storedRow(google.connectionId);
    expect(row).toMatchObject({
      status: "needs_reauth",
      status_reason: "invalid_grant",
      refresh_token_ciphertext: before.refresh_token_ciphertext,
    });
    expect((await service.connection(google.userId, google.connectionId)).status).toBe("needs_reauth");
  });

  it("audits token.refresh_failed with class reauth", async () => {
    const google = await expiredGoogleFailingWith("fail-grant-audit", { failure: "invalid_grant" });
    await service.vend(google.userId, google.connectionId);
    const [event] = await waitForAudit(google.userId, "token.refresh_failed");
    expect(event).toMatchObject({ outcome: "failure", detail: { class: "reauth", reason: "invalid_grant", trigger: "vend" } });
    expect(event!.raw).not.toContain(await storedPlaintext(google, "refresh_token"));
  });

  it("makes no further upstream call on later vends, forced or reporting a rejected token", async () => {
    const google = await expiredGoogleFailingWith("fail-grant-quiet", { failure: "invalid_grant" });
    await service.vend(google.userId, google.connectionId);
    const stored = await storedPlaintext(google, "access_token");
    for (const body of [{}, { force_refresh: true }, { rejected_token: stored }]) {
      await expectProblem(await service.vend(google.userId, google.connectionId, body), 409, "needs-reauth");
    }
    expect(await mockProvider.refreshGrants(google.flow)).toHaveLength(1);
  });
});

describe("a connection marked needs_reauth after a vend read it as active", () => {
  it("is refused by the Durable Object itself, without an upstream call", async () => {
    const google = await connectMock("google", "fail-reauth-late");
    await env.DB.prepare("UPDATE connections SET status = 'needs_reauth', status_reason = 'invalid_grant' WHERE id = ?")
      .bind(google.connectionId)
      .run();
    const result = await env.USER_VAULT.getByName(google.userId).refresh({
      userId: google.userId,
      connectionId: google.connectionId,
      trigger: "force",
      minValiditySeconds: 300,
      requestedAt: Date.now(),
    });
    expect(result).toEqual({ kind: "needs_reauth" });
    expect(await mockProvider.refreshGrants(google.flow)).toEqual([]);
  });
});

describe("a refresh refused with invalid_client", () => {
  it("answers 502 and leaves the connection active with its tokens", async () => {
    captureLogs("error");
    const google = await expiredGoogleFailingWith("fail-client", { failure: "invalid_client" });
    const before = await storedRow(google.connectionId);
    await expectProblem(await service.vend(google.userId, google.connectionId), 502, "provider-rejected-client");
    const row = await storedRow(google.connectionId);
    expect(row).toMatchObject({ status: "active", status_reason: null, access_token_ciphertext: before.access_token_ciphertext });
    expect(row.refresh_token_ciphertext).toBe(before.refresh_token_ciphertext);
  });

  it("logs one line for the operator, naming the provider and the error, never a token", async () => {
    const errors = captureLogs("error");
    const google = await expiredGoogleFailingWith("fail-client-log", { failure: "invalid_client" });
    await service.vend(google.userId, google.connectionId);
    expect(errors.lines()).toEqual([{ message: OPERATOR_REFRESH_FAILED, provider: "google", error: "invalid_client", status: 401 }]);
  });

  it("audits token.refresh_failed with class operator", async () => {
    captureLogs("error");
    const google = await expiredGoogleFailingWith("fail-client-audit", { failure: "invalid_client" });
    await service.vend(google.userId, google.connectionId);
    const [event] = await waitForAudit(google.userId, "token.refresh_failed");
    expect(event).toMatchObject({ detail: { class: "operator", reason: "invalid_client", status: 401 } });
  });

  it("does not hammer the provider: an immediate second vend makes no upstream call", async () => {
    const errors = captureLogs("error");
    const google = await expiredGoogleFailingWith("fail-client-quiet", { failure: "invalid_client" });
    await service.vend(google.userId, google.connectionId);
    await service.vend(google.userId, google.connectionId);
    expect(await mockProvider.refreshGrants(google.flow)).toHaveLength(1);
    expect(errors.messages()).toEqual([OPERATOR_REFRESH_FAILED]);
  });

  it("answers 502 again during the cooldown that follows, not 503, without an upstream call", async () => {
    captureLogs("error");
    const google = await expiredGoogleFailingWith("fail-client-cooldown", { failure: "invalid_client" });
    await service.vend(google.userId, google.connectionId);
    for (const body of [{}, { force_refresh: true }]) {
      await expectProblem(await service.vend(google.userId, google.connectionId, body), 502, "provider-rejected-client");
    }
    expect(await mockProvider.refreshGrants(google.flow)).toHaveLength(1);
    expect(await storedRow(google.connectionId)).toMatchObject({ status: "active", last_refresh_failure_class: "operator" });
  });
});

describe("a connection whose provider is no longer configured", () => {
  it("answers 502 and cools down like a failed refresh, so later vends and cron runs pass it by", async () => {
    const row = await seedConnection({ userId: newUserId("fail-retired"), provider: "retired-sso", expiresAt: Date.now() - 60_000 });
    const errors = captureLogs("error");
    const startedAt = Date.now();

    await expectProblem(await service.vend(row.userId, row.id), 502, "provider-rejected-client");
    expect(errors.lines()).toEqual([
      { message: OPERATOR_REFRESH_FAILED, provider: "retired-sso", error: "provider_not_configured", status: null },
    ]);

    const after = await storedRow(row.id);
    expect(after).toMatchObject({ status: "active", refresh_failures: 1, last_refresh_failure_class: "operator" });
    expect(after.refresh_blocked_until).toBeGreaterThanOrEqual(startedAt + 30_000);
    await expectProblem(await service.vend(row.userId, row.id), 502, "provider-rejected-client");
  });
});

describe("a provider whose refresh throws instead of answering", () => {
  it("is an operator failure that cools down, never an exception, and only the error's name is logged", async () => {
    const row = await seedConnection({ userId: newUserId("fail-throws"), expiresAt: Date.now() - 60_000 });
    const services = createServices(env, { requestId: null, ip: null, userId: row.userId, actor: "backend" });
    const google = services.providers.get("google")!;
    const throwing: Provider = {
      ...google,
      refresh: () => Promise.reject(new TypeError(`cannot reach ${row.id} with rt-${row.id}`)),
    };
    const vault: VaultServices = {
      ...services,
      providers: { get: (id) => (id === "google" ? throwing : services.providers.get(id)), list: () => services.providers.list() },
      pendingWrites: { get: async () => undefined, put: async () => undefined, delete: async () => undefined },
      writeConnection: updateConnection,
    };
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const startedAt = Date.now();

    const result = await refreshConnection(vault, {
      userId: row.userId,
      connectionId: row.id,
      trigger: "vend",
      minValiditySeconds: 300,
      requestedAt: startedAt,
    });

    expect(result).toEqual({ kind: "operator_error" });
    const after = await storedRow(row.id);
    expect(after).toMatchObject({
      status: "active",
      refresh_failures: 1,
      last_refresh_failure_class: "operator",
      pending_write_key_id: null,
    });
    expect(after.refresh_blocked_until).toBeGreaterThanOrEqual(startedAt + 30_000);
    const logged = errors.mock.calls.map(([line]) => String(line)).join("\n");
    expect(logged).toContain("TypeError");
    expect(logged).not.toContain(`rt-${row.id}`);
    errors.mockRestore();
  });
});

describe.each(["not_found", "wrong_issuer", "malformed"] as const)(
  "a connection at an OpenID provider whose discovery is broken for good (%s)",
  (how) => {
    it("answers a vend with 502, never a 500, and cools down: the next vend fetches no discovery document", async () => {
      const broken = await brokenDiscoveryEnv(how);
      const row = await seedConnection({ userId: newUserId("fail-discovery"), provider: BROKEN_PROVIDER, expiresAt: Date.now() - 60_000 });
      const errors = captureLogs("error");
      await useEnvInVault(row.userId, broken.env);
      const app = apiClient(appWithEnv(broken.env));
      const vendThroughApp = () => app.vend(row.userId, row.id);

      await expectProblem(await vendThroughApp(), 502, "provider-rejected-client");
      await expectProblem(await vendThroughApp(), 502, "provider-rejected-client");

      expect(await broken.discoveryFetches()).toBe(1);
      expect(errors.messages()).toEqual([DISCOVERY_UNUSABLE, OPERATOR_REFRESH_FAILED]);
      expect(await storedRow(row.id)).toMatchObject({ status: "active", refresh_failures: 1, last_refresh_failure_class: "operator" });
      const [event] = await waitForAudit(row.userId, "token.refresh_failed");
      expect(event).toMatchObject({ outcome: "failure", detail: { class: "operator" } });
    });
  },
);

const TRANSIENT: [string, MockBehaviour, string][] = [
  ["a 429 with Retry-After", { failure: "rate_limited", retry_after: "120" }, "rate_limited"],
  ["a 500 with an HTML body", { failure: "server_error_html" }, "http_500"],
  ["a response slower than the upstream timeout", { failure: "delay", delay_ms: 5_000 }, "timeout"],
  ["a dropped connection", { failure: "drop" }, "network"],
  ["malformed JSON", { failure: "malformed_json" }, "malformed_response"],
  ["temporarily_unavailable", { failure: "temporarily_unavailable" }, "temporarily_unavailable"],
];

describe.each(TRANSIENT)("a refresh failing transiently with %s", (_name, behaviour, label) => {
  it("answers 503 with Retry-After for an expired token", async () => {
    const google = await expiredGoogleFailingWith("fail-transient-503", behaviour);
    const problem = await service.vend(google.userId, google.connectionId);
    const body = await expectProblem(problem, 503, "service-unavailable");
    const retryAfter = Number(problem.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThanOrEqual(30);
    expect(body.retry_after_seconds).toBe(retryAfter);
  });

  it("keeps the tokens and the active status, and blocks refreshes for a cooldown", async () => {
    const google = await expiredGoogleFailingWith("fail-transient-row", behaviour);
    const before = await storedRow(google.connectionId);
    const startedAt = Date.now();
    await service.vend(google.userId, google.connectionId);
    const row = await storedRow(google.connectionId);
    expect(row).toMatchObject({
      status: "active",
      status_reason: null,
      access_token_ciphertext: before.access_token_ciphertext,
      refresh_token_ciphertext: before.refresh_token_ciphertext,
      refresh_failures: 1,
      last_refresh_failure: label,
    });
    expect(row.refresh_blocked_until).toBeGreaterThanOrEqual(startedAt + 30_000);
  });

  it("makes no upstream call on an immediate second vend, which answers 503 too", async () => {
    const google = await expiredGoogleFailingWith("fail-transient-quiet", behaviour);
    await service.vend(google.userId, google.connectionId);
    const second = await service.vend(google.userId, google.connectionId, { force_refresh: true });
    await expectProblem(second, 503, "service-unavailable");
    expect(Number(second.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(await mockProvider.refreshGrants(google.flow)).toHaveLength(1);
  });
});

describe("a transient refresh failure", () => {
  it("blocks refreshes for at least the provider's Retry-After", async () => {
    const google = await expiredGoogleFailingWith("fail-retry-after", { failure: "rate_limited", retry_after: "900" });
    const startedAt = Date.now();
    const response = await service.vend(google.userId, google.connectionId);
    expect(Number(response.headers.get("Retry-After"))).toBeGreaterThanOrEqual(900);
    expect((await storedRow(google.connectionId)).refresh_blocked_until).toBeGreaterThanOrEqual(startedAt + 900_000);
  });

  it("gives the caller the stored token when it is still unexpired and no refresh was forced", async () => {
    const google = await connectMock("google", "fail-stored-ok");
    // Two minutes left of Google's 3,599 seconds: not fresh enough for the default 300 s, still unexpired.
    await ageStoredToken(google.connectionId, 3479_000);
    await mockProvider.scriptTokenResponses(google.flow, [{ failure: "server_error_html" }]);
    const stored = await storedPlaintext(google, "access_token");

    const token = await vendOk(google);
    expect(token.access_token).toBe(stored);
    expect(await mockProvider.refreshGrants(google.flow)).toHaveLength(1);
    const [event] = await waitForAudit(google.userId, "token.vended");
    expect(event!.detail).toEqual({ refreshed: false });
  });

  it("answers 503 to force_refresh even though the stored token is still unexpired", async () => {
    const google = await connectMock("google", "fail-forced");
    await mockProvider.scriptTokenResponses(google.flow, [{ failure: "server_error_html" }]);
    const response = await service.vend(google.userId, google.connectionId, { force_refresh: true });
    await expectProblem(response, 503, "service-unavailable");
    expect(response.headers.get("Retry-After")).not.toBeNull();
  });

  it("answers 503 to a caller reporting the stored token rejected", async () => {
    const google = await connectMock("google", "fail-rejected");
    await mockProvider.scriptTokenResponses(google.flow, [{ failure: "drop" }]);
    const stored = await storedPlaintext(google, "access_token");
    await expectProblem(await service.vend(google.userId, google.connectionId, { rejected_token: stored }), 503, "service-unavailable");
  });

  it("is audited as token.refresh_failed with class transient", async () => {
    const google = await expiredGoogleFailingWith("fail-transient-audit", { failure: "rate_limited", retry_after: "60" });
    await service.vend(google.userId, google.connectionId);
    const [event] = await waitForAudit(google.userId, "token.refresh_failed");
    expect(event).toMatchObject({ detail: { class: "transient", reason: "rate_limited", status: 429 } });
  });

  it("once the cooldown has passed, the next vend refreshes and clears the failure record", async () => {
    const google = await expiredGoogleFailingWith("fail-recover", { failure: "server_error_html" });
    await service.vend(google.userId, google.connectionId);
    await endCooldown(google.connectionId);
    const token = await vendOk(google);
    expect(await storedPlaintext(google, "access_token")).toBe(token.access_token);
    expect(await storedRow(google.connectionId)).toMatchObject({
      status: "active",
      refresh_failures: 0,
      refresh_blocked_until: null,
      last_refresh_failure: null,
    });
  });

  it("backs off longer after consecutive failures", async () => {
    const google = await expiredGoogleFailingWith("fail-backoff", { failure: "server_error_html" });
    await mockProvider.scriptTokenResponses(google.flow, [{ failure: "server_error_html" }]);
    await service.vend(google.userId, google.connectionId);
    await endCooldown(google.connectionId);
    const startedAt = Date.now();
    const response = await service.vend(google.userId, google.connectionId);
    expect(Number(response.headers.get("Retry-After"))).toBeGreaterThanOrEqual(60);
    expect(await storedRow(google.connectionId)).toMatchObject({ refresh_failures: 2 });
    expect((await storedRow(google.connectionId)).refresh_blocked_until).toBeGreaterThanOrEqual(startedAt + 60_000);
  });
});

describe("a refresh whose response is lost after the provider rotated", () => {
  it.each(["timeout", "network"] as const)("Notion (%s): the next attempt gets invalid_grant and ends needs_reauth, once", async (kind) => {
    const notion = await connectMock("notion", `lost-notion-${kind}`);
    const original = await storedPlaintext(notion, "refresh_token");
    await loseNextRefreshResponse(notion, kind);
    await expectProblem(await service.vend(notion.userId, notion.connectionId, { force_refresh: true }), 503, "service-unavailable");
    // Notion did rotate: the token we still hold is dead.
    expect((await mockProvider.flowState(notion.flow)).refresh_tokens).toEqual([
      { token: original, alive: false },
      { token: expect.any(String), alive: true },
    ]);

    await endCooldown(notion.connectionId);
    await expectProblem(await service.vend(notion.userId, notion.connectionId, { force_refresh: true }), 409, "needs-reauth");
    expect((await storedRow(notion.connectionId)).status_reason).toBe("invalid_grant_after_lost_response");

    // Never a retry loop: the connection stays put until the user connects again.
    await expectProblem(await service.vend(notion.userId, notion.connectionId, { force_refresh: true }), 409, "needs-reauth");
    expect(await mockProvider.refreshGrants(notion.flow)).toEqual([original, original]);
  });

  it("Microsoft, whose old refresh token stays valid: the next attempt simply succeeds", async () => {
    const microsoft = await connectMock("microsoft", "lost-microsoft");
    const original = await storedPlaintext(microsoft, "refresh_token");
    await expireStoredToken(microsoft.connectionId);
    await loseNextRefreshResponse(microsoft, "timeout");
    await expectProblem(await service.vend(microsoft.userId, microsoft.connectionId), 503, "service-unavailable");

    await endCooldown(microsoft.connectionId);
    const token = await vendOk(microsoft);
    expect(await mockProvider.refreshGrants(microsoft.flow)).toEqual([original, original]);
    expect(await storedPlaintext(microsoft, "access_token")).toBe(token.access_token);
    expect(await storedPlaintext(microsoft, "refresh_token")).not.toBe(original);
    expect(await storedRow(microsoft.connectionId)).toMatchObject({ status: "active", refresh_failures: 0, last_refresh_failure: null });
  });

  it("Notion, when the mock dropped the connection before rotating: the next attempt succeeds with the same token", async () => {
    const notion = await connectMock("notion", "lost-notion-before");
    const original = await storedPlaintext(notion, "refresh_token");
    await mockProvider.scriptTokenResponses(notion.flow, [{ failure: "drop" }]);
    await expectProblem(await service.vend(notion.userId, notion.connectionId, { force_refresh: true }), 503, "service-unavailable");

    await endCooldown(notion.connectionId);
    await vendOk(notion, { force_refresh: true });
    expect(await mockProvider.refreshGrants(notion.flow)).toEqual([original, original]);
    expect((await storedRow(notion.connectionId)).status).toBe("active");
  });
});

describe("failures at the local oidc-provider", () => {
  it("a grant revoked at the provider's revocation endpoint: invalid_grant, 409 and needs_reauth", async () => {
    const oidc = await connectLocalOidc("oidc-revoked");
    await localOidc.revoke(await storedPlaintext(oidc, "refresh_token"), "refresh_token");
    await expireStoredToken(oidc.connectionId);

    await expectProblem(await service.vend(oidc.userId, oidc.connectionId), 409, "needs-reauth");
    expect(await storedRow(oidc.connectionId)).toMatchObject({ status: "needs_reauth", status_reason: "invalid_grant" });
    // oidc-provider cannot attribute a grant error to an account once the token is gone, so count what it can.
    expect((await localOidc.events(oidc.flow)).counts).toMatchObject({ revocation: 1, refresh_token: 0 });
    await expectProblem(await service.vend(oidc.userId, oidc.connectionId, { force_refresh: true }), 409, "needs-reauth");
  });

  it("a lost response after rotation: the reused token is refused, the grant revoked, the connection needs_reauth, once", async () => {
    const oidc = await connectLocalOidc("oidc-lost");
    await expireStoredToken(oidc.connectionId);
    await loseNextRefreshResponse(oidc, "network");
    await expectProblem(await service.vend(oidc.userId, oidc.connectionId), 503, "service-unavailable");

    await endCooldown(oidc.connectionId);
    await expectProblem(await service.vend(oidc.userId, oidc.connectionId), 409, "needs-reauth");
    expect((await storedRow(oidc.connectionId)).status_reason).toBe("invalid_grant_after_lost_response");
    await expectProblem(await service.vend(oidc.userId, oidc.connectionId, { force_refresh: true }), 409, "needs-reauth");

    const events = await localOidc.events(oidc.flow);
    expect(events.counts).toMatchObject({ refresh_token: 1, token_error: 1 });
    expect(events.counts.grant_revoked).toBeGreaterThanOrEqual(1);
  });

  it("client credentials refused (invalid_client): 502 and the connection stays active", async () => {
    const oidc = await connectLocalOidc("oidc-client");
    await expireStoredToken(oidc.connectionId);
    const errors = captureLogs("error");
    await interceptRefreshGrants(oidc, (forward) =>
      forward({ Authorization: `Basic ${btoa(`${LOCAL_OIDC_CLIENT.clientId}:wrong-secret`)}` }),
    );

    await expectProblem(await service.vend(oidc.userId, oidc.connectionId), 502, "provider-rejected-client");
    expect(await storedRow(oidc.connectionId)).toMatchObject({ status: "active", last_refresh_failure: "invalid_client" });
    expect(errors.messages()).toEqual([OPERATOR_REFRESH_FAILED]);
    expect((await localOidc.events(oidc.flow)).counts.refresh_token).toBe(0);
  });

  it("a connection dropped before reaching the provider: 503, tokens kept, and the refresh after the cooldown succeeds", async () => {
    const oidc = await connectLocalOidc("oidc-drop");
    await expireStoredToken(oidc.connectionId);
    const before = await storedRow(oidc.connectionId);
    await interceptRefreshGrants(oidc, async (forward, attempt) => {
      if (attempt === 1) throw new TypeError("Network connection lost.");
      return forward();
    });

    await expectProblem(await service.vend(oidc.userId, oidc.connectionId), 503, "service-unavailable");
    expect(await storedRow(oidc.connectionId)).toMatchObject({
      status: "active",
      refresh_token_ciphertext: before.refresh_token_ciphertext,
      last_refresh_failure: "network",
    });

    await endCooldown(oidc.connectionId);
    await vendOk(oidc);
    expect((await localOidc.events(oidc.flow)).counts).toMatchObject({ refresh_token: 1, token_error: 0 });
    expect((await storedRow(oidc.connectionId)).status).toBe("active");
  });
});
