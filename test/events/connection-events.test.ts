/**
 * Connection events at their sources (docs/http-api.md, "Events (webhooks)"): the callback (created, reauthorized,
 * scopes_changed), the user's vault's refresh outcomes (needs_reauth, refresh_failed, recovered) and removal
 * (deleted). The operations run for real over the Worker's fetch, against the mock providers and the local
 * oidc-provider; what they publish is read off a recording queue (test/support/webhooks.ts).
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { captureLogs } from "../support/logs";
import type { Connection } from "../support/api-client";
import { connectAccount } from "../support/connect-flow";
import { newMockId } from "../support/mock-control";
import { newOidcAccount } from "../support/oidc-control";
import { expectProblem } from "../support/problems";
import { LOCAL_OIDC_ID } from "../support/bindings";
import { endCooldown, expireStoredToken, storedPlaintext, type Connected } from "../support/refresh-fixtures";
import { localOidc, mockProvider } from "../support/toolkit";
import { newUserId } from "../support/users";
import { runJobs, vaultQueues } from "../support/vault-queues";
import { publishedTypes, takePublished, webhookHarness, type WebhookHarness } from "../support/webhooks";

afterEach(() => {
  vi.restoreAllMocks();
});

const AUTH = "https://www.googleapis.com/auth/";
const CALENDAR = `${AUTH}calendar.events`;

interface Scenario extends Connected {
  harness: WebhookHarness;
}

/** A new user with a recording webhook queue, who connects Google at the mock (flow `flow`, or a new one). */
async function connectedGoogle(label: string, options: { scopes?: string[] } = {}): Promise<Scenario> {
  const userId = newUserId(label);
  const harness = await webhookHarness(userId);
  const flow = newMockId(label);
  const connection = await connectThrough(harness, userId, "google", { mock_flow: flow }, options.scopes);
  return { userId, connectionId: connection.id, flow, harness };
}

/** The whole connect flow through the harness's app; expects the callback's 200 and returns its connection. */
async function connectThrough(
  harness: WebhookHarness,
  userId: string,
  provider: string,
  providerParams: Record<string, string>,
  scopes?: string[],
): Promise<Connection> {
  const response = await connectAccount(harness.service, harness.browser(), userId, provider, {
    providerParams,
    ...(scopes === undefined ? {} : { scopes }),
  });
  expect(response.status, await response.clone().text()).toBe(200);
  return ((await response.json()) as { connection: Connection }).connection;
}

/** Connects the scenario's account again (the same grant at the mock). */
function reconnect(scenario: Scenario, scopes?: string[]): Promise<Connection> {
  return connectThrough(scenario.harness, scenario.userId, "google", { mock_flow: scenario.flow }, scopes);
}

/** The next refresh of the scenario's connection meets `failure` at the mock; the stored token has expired. */
async function nextRefreshFails(scenario: Scenario, failure: "invalid_grant" | "invalid_client" | "server_error_html"): Promise<void> {
  await expireStoredToken(scenario.connectionId);
  await mockProvider.scriptTokenResponses(scenario.flow, [{ failure }]);
}

describe("the connect flow's callback", () => {
  it("publishes connection.created with the connection as the API presents it, never a token", async () => {
    const scenario = await connectedGoogle("ev-created");

    const [event, ...others] = takePublished(scenario.harness.queue);
    expect(others).toEqual([]);
    expect(event!.payload).toEqual({
      type: "connection.created",
      timestamp: expect.any(String),
      data: { user_id: scenario.userId, connection: await scenario.harness.service.connection(scenario.userId, scenario.connectionId) },
    });
    const issued = await mockProvider.flowState(scenario.flow);
    const body = JSON.stringify(event);
    for (const { token } of [...issued.access_tokens, ...issued.refresh_tokens]) expect(body).not.toContain(token);
  });

  it("publishes connection.reauthorized when reconnecting heals a needs_reauth connection", async () => {
    const scenario = await connectedGoogle("ev-reauthorized");
    await nextRefreshFails(scenario, "invalid_grant");
    await expectProblem(await scenario.harness.service.vend(scenario.userId, scenario.connectionId), 409, "needs-reauth");
    scenario.harness.queue.take();

    const healed = await reconnect(scenario);

    expect(takePublished(scenario.harness.queue).map((event) => event.payload)).toEqual([
      expect.objectContaining({ type: "connection.reauthorized", data: { user_id: scenario.userId, connection: healed } }),
    ]);
    expect(healed.status).toBe("active");
  });

  it("publishes connection.scopes_changed with the scopes granted before when a reconnect grants others", async () => {
    const scenario = await connectedGoogle("ev-scopes");
    const before = await scenario.harness.service.connection(scenario.userId, scenario.connectionId);
    scenario.harness.queue.take();

    const after = await reconnect(scenario, [CALENDAR]);

    expect(after.scopes).toContain(CALENDAR);
    expect(takePublished(scenario.harness.queue).map((event) => event.payload.data)).toEqual([
      { user_id: scenario.userId, connection: after, previous_scopes: before.scopes },
    ]);
  });

  it("publishes nothing when a reconnect changes nothing subscribers are told about", async () => {
    const scenario = await connectedGoogle("ev-same");
    scenario.harness.queue.take();

    await reconnect(scenario);

    expect(publishedTypes(scenario.harness.queue)).toEqual([]);
  });

  it("still answers when the webhook queue refuses the event, logging which event was lost and nothing of its body", async () => {
    const userId = newUserId("ev-queue-down");
    const harness = await webhookHarness(userId);
    vi.spyOn(harness.queue, "sendBatch").mockRejectedValue(new Error("Queue send failed: simulated outage"));
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);

    const connection = await connectThrough(harness, userId, "google", { mock_flow: newMockId("ev-queue-down") });

    const [line] = errors.mock.calls
      .map(([text]) => JSON.parse(String(text)) as Record<string, unknown>)
      .filter((entry) => entry.message === "webhook events not queued");
    expect(line).toEqual({
      message: "webhook events not queued",
      events: [{ id: expect.stringMatching(/^msg_/), type: "connection.created" }],
      error: "Error",
    });
    expect(JSON.stringify(errors.mock.calls)).not.toContain(connection.id);
  });
});

describe("the user's vault's refresh outcomes", () => {
  it("publish connection.needs_reauth with the reason after invalid_grant at the local oidc-provider", async () => {
    const userId = newUserId("ev-oidc-revoked");
    const harness = await webhookHarness(userId);
    const account = newOidcAccount();
    const connection = await connectThrough(harness, userId, LOCAL_OIDC_ID, { login_hint: account });
    const oidc = { userId, connectionId: connection.id, flow: account };
    harness.queue.take();
    await localOidc.revoke(await storedPlaintext(oidc, "refresh_token"), "refresh_token");
    await expireStoredToken(connection.id);

    await expectProblem(await harness.service.vend(userId, connection.id), 409, "needs-reauth");
    // The next vend answers from the row: nothing more to tell.
    await expectProblem(await harness.service.vend(userId, connection.id, { force_refresh: true }), 409, "needs-reauth");

    expect(takePublished(harness.queue).map((event) => event.payload)).toEqual([
      expect.objectContaining({
        type: "connection.needs_reauth",
        data: {
          user_id: userId,
          connection: expect.objectContaining({ id: connection.id, status: "needs_reauth", status_reason: "invalid_grant" }),
          reason: "invalid_grant",
        },
      }),
    ]);
  });

  it("publish connection.refresh_failed at once for an operator error, once per failure streak, then recovered", async () => {
    const errors = captureLogs("error");
    const scenario = await connectedGoogle("ev-operator");
    const { harness, userId, connectionId } = scenario;
    harness.queue.take();
    await nextRefreshFails(scenario, "invalid_client");
    await mockProvider.scriptTokenResponses(scenario.flow, [{ failure: "invalid_client" }]);

    await expectProblem(await harness.service.vend(userId, connectionId), 502, "provider-rejected-client");
    await endCooldown(connectionId);
    await expectProblem(await harness.service.vend(userId, connectionId), 502, "provider-rejected-client");
    await endCooldown(connectionId);
    await harness.service.vendOk(userId, connectionId);

    const events = takePublished(harness.queue).map((event) => event.payload);
    expect(events.map((event) => event.type)).toEqual(["connection.refresh_failed", "connection.recovered"]);
    expect(events[0]!.data).toEqual({
      user_id: userId,
      connection: expect.objectContaining({ id: connectionId, status: "active" }),
      reason: "invalid_client",
    });
    expect(events[1]!.data.connection).toEqual(await harness.service.connection(userId, connectionId));
    // Each operator failure tells the operator, though subscribers hear of the streak once.
    expect(errors.messages().filter((message) => message.startsWith("OPERATOR ACTION NEEDED"))).toHaveLength(2);
  });

  it("publish connection.refresh_failed for transient failures only once the connection has been failing for an hour", async () => {
    const scenario = await connectedGoogle("ev-transient");
    const { harness, userId, connectionId } = scenario;
    harness.queue.take();
    await nextRefreshFails(scenario, "server_error_html");
    await harness.service.vend(userId, connectionId);
    expect(publishedTypes(harness.queue)).toEqual([]);

    // An hour on, still failing.
    await env.DB.prepare("UPDATE connections SET refresh_failing_since = refresh_failing_since - 3600000 WHERE id = ?")
      .bind(connectionId)
      .run();
    await endCooldown(connectionId);
    await mockProvider.scriptTokenResponses(scenario.flow, [{ failure: "server_error_html" }]);
    await expectProblem(await harness.service.vend(userId, connectionId), 503, "service-unavailable");

    expect(takePublished(harness.queue).map((event) => [event.payload.type, event.payload.data.reason])).toEqual([
      ["connection.refresh_failed", "http_500"],
    ]);
    await endCooldown(connectionId);
    await harness.service.vendOk(userId, connectionId);
    expect(publishedTypes(harness.queue)).toEqual(["connection.recovered"]);
  });

  it("publish nothing for a transient failure that heals within the hour, nor for ordinary refreshes", async () => {
    const scenario = await connectedGoogle("ev-blip");
    const { harness, userId, connectionId } = scenario;
    const send = vi.spyOn(harness.queue, "sendBatch");
    await nextRefreshFails(scenario, "server_error_html");
    await harness.service.vend(userId, connectionId);
    await endCooldown(connectionId);
    await harness.service.vendOk(userId, connectionId);
    await harness.service.vendOk(userId, connectionId, { force_refresh: true });

    expect(send).not.toHaveBeenCalled();
  });

  it("publish from a cron refresh as from a vend: the outcome is the vault's, whoever asked", async () => {
    const summaries = captureLogs("log");
    const scenario = await connectedGoogle("ev-cron");
    scenario.harness.queue.take();
    await nextRefreshFails(scenario, "invalid_grant");
    const queues = vaultQueues(scenario.harness.env);

    await runJobs(queues, [{ kind: "refresh", userId: scenario.userId, connectionId: scenario.connectionId }]);

    expect(publishedTypes(scenario.harness.queue)).toEqual(["connection.needs_reauth"]);
    expect(summaries.lines()).toEqual([expect.objectContaining({ message: "queue.vault-jobs", jobs: 1 })]);
  });
});

describe("vending a token", () => {
  it("publishes nothing and sends nothing to the webhook queue when the stored token answers (the hot path)", async () => {
    const scenario = await connectedGoogle("ev-hot-path");
    scenario.harness.queue.take();
    const send = vi.spyOn(scenario.harness.queue, "sendBatch");

    for (let vend = 0; vend < 3; vend++) await scenario.harness.service.vendOk(scenario.userId, scenario.connectionId);

    expect(send).not.toHaveBeenCalled();
  });
});

describe("disconnecting", () => {
  it("publishes connection.deleted, reason user, with the connection as it was just before its removal", async () => {
    const scenario = await connectedGoogle("ev-deleted");
    const before = await scenario.harness.service.connection(scenario.userId, scenario.connectionId);
    scenario.harness.queue.take();

    const response = await scenario.harness.service.call(scenario.userId, `/v1/connections/${scenario.connectionId}`, { method: "DELETE" });

    expect(response.status).toBe(204);
    expect(takePublished(scenario.harness.queue).map((event) => event.payload)).toEqual([
      expect.objectContaining({ type: "connection.deleted", data: { user_id: scenario.userId, connection: before, reason: "user" } }),
    ]);
  });
});

describe("erasing the user", () => {
  it("publishes connection.deleted, reason erasure, for each connection, then user.erased", async () => {
    const scenario = await connectedGoogle("ev-erased");
    const other = await connectThrough(scenario.harness, scenario.userId, "google", {
      mock_flow: newMockId("ev-erased-2"),
      mock_account: JSON.stringify({ sub: "second-account", email: "second@example.com" }),
    });
    scenario.harness.queue.take();

    const response = await scenario.harness.service.call(scenario.userId, "/v1/me", { method: "DELETE" });

    expect(response.status).toBe(204);
    const events = takePublished(scenario.harness.queue).map((event) => event.payload);
    expect(events.map((event) => [event.type, event.data.connection?.id ?? null, event.data.reason ?? null])).toEqual([
      ["connection.deleted", expect.any(String), "erasure"],
      ["connection.deleted", expect.any(String), "erasure"],
      ["user.erased", null, null],
    ]);
    expect(new Set(events.slice(0, 2).map((event) => event.data.connection!.id))).toEqual(new Set([scenario.connectionId, other.id]));
    expect(events.every((event) => event.data.user_id === scenario.userId)).toBe(true);
  });
});
