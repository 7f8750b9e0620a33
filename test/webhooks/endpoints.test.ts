/**
 * The webhook subscriptions' admin API (`/v1/admin/webhooks`), over the Worker's own fetch handler with caller JWTs.
 * The test bindings' `PUBLIC_BASE_URL` is loopback http; an app with an https one (test/support/app-with-env.ts) plays
 * the deployed service. D1 is per test file: every test starts without endpoints, so lists are its own.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { WEBHOOK_EVENT_TYPES } from "../../src/events/event-types";
import { database } from "../../src/storage/database";
import { recordWebhookDelivery } from "../../src/storage/webhook-deliveries";
import { updateWebhookEndpoint } from "../../src/storage/webhook-endpoints";
import { apiClient } from "../support/api-client";
import { appWithEnv } from "../support/app-with-env";
import { auditRowsOf } from "../support/integration-helpers";
import { expectProblem } from "../support/problems";
import { service } from "../support/toolkit";
import { newUserId } from "../support/users";
import { callWorker } from "../support/worker";
import {
  adminCall,
  deleteAllWebhookEndpoints,
  recordingWebhookQueue,
  storedEndpoint,
  subscribeWebhook,
  type CreatedWebhook,
  type WebhookSubscription,
} from "../support/webhooks";

const RECEIVER = "https://receiver.example.com/hooks/connections?team=7";
const DEPLOYED = apiClient(appWithEnv({ ...env, PUBLIC_BASE_URL: "https://connections.example.com" } as Env));

let admin: string;

beforeEach(async () => {
  await deleteAllWebhookEndpoints();
  admin = newUserId("webhook-admin");
});
afterEach(() => {
  vi.restoreAllMocks();
});

function call(path: string, options: { method?: string; body?: unknown } = {}): Promise<Response> {
  return adminCall(service, admin, path, options);
}

async function listed(): Promise<WebhookSubscription[]> {
  const response = await call("/v1/admin/webhooks");
  expect(response.status).toBe(200);
  return ((await response.json()) as { webhooks: WebhookSubscription[] }).webhooks;
}

/** The subscription as listed: the create answer without its secret. */
function viewOf({ secret: _secret, ...view }: CreatedWebhook): WebhookSubscription {
  return view;
}

/** An endpoint as the delivery marks one that answered 410 (src/storage/schema.ts `disabledReason`). */
async function disableAsGone(id: string): Promise<void> {
  const row = (await storedEndpoint(id))!;
  await updateWebhookEndpoint(database(env.DB), { id, expectedVersion: row.version }, { enabled: false, disabledReason: "gone" });
}

describe("POST /v1/admin/webhooks", () => {
  it("subscribes an endpoint to every type and answers with its whsec_ secret", async () => {
    const response = await call("/v1/admin/webhooks", { method: "POST", body: { url: RECEIVER, description: "CRM sync" } });

    expect(response.status).toBe(201);
    const created = (await response.json()) as CreatedWebhook;
    expect(created).toEqual({
      id: expect.stringMatching(/^wh_[A-Za-z0-9_-]+$/),
      url: RECEIVER,
      events: null,
      enabled: true,
      disabled_reason: null,
      description: "CRM sync",
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]+=*$/),
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    // Standard Webhooks: the base64 of 24 to 64 random bytes; ours are 32.
    expect(atob(created.secret.slice("whsec_".length))).toHaveLength(32);
    expect(await listed()).toEqual([viewOf(created)]);
  });

  it("gives every endpoint a secret of its own", async () => {
    const first = await subscribeWebhook(service, admin, { url: RECEIVER });
    const second = await subscribeWebhook(service, admin, { url: RECEIVER });

    expect(second.id).not.toBe(first.id);
    expect(second.secret).not.toBe(first.secret);
  });

  it("stores the listed event types once each, in the catalogue's order", async () => {
    const created = await subscribeWebhook(service, admin, {
      url: RECEIVER,
      events: ["connection.deleted", "connection.created", "connection.deleted"],
    });

    expect(created.events).toEqual(["connection.created", "connection.deleted"]);
  });

  it("accepts every documented event type", async () => {
    const created = await subscribeWebhook(service, admin, { url: RECEIVER, events: [...WEBHOOK_EVENT_TYPES] });

    expect(created.events).toEqual([...WEBHOOK_EVENT_TYPES]);
  });

  it("refuses a caller without a bearer token with 401", async () => {
    const response = await callWorker("/v1/admin/webhooks", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ url: RECEIVER }),
    });

    await expectProblem(response, 401, "unauthorized");
  });

  it("refuses a caller without the admin scope with 403 before reading the body", async () => {
    const response = await service.call(admin, "/v1/admin/webhooks", {
      scope: "connections:token",
      method: "POST",
      body: { url: "ftp://not-even-valid", events: ["no.such.type"] },
    });

    const problem = await expectProblem(response, 403, "forbidden");
    expect(problem.required_scope).toBe("admin");
    expect(await listed()).toEqual([]);
  });

  it.each([
    ["an ftp URL", "ftp://receiver.example.com/hooks", "must be an https URL"],
    ["a javascript: URL", "javascript:alert(1)", "must be an https URL"],
    ["credentials in the URL", "https://user:pass@receiver.example.com/hooks", "must not carry a user name or password"],
    ["a fragment", "https://receiver.example.com/hooks#x", "must not have a fragment"],
    [
      "http to a public host",
      "http://receiver.example.com/hooks",
      "must be https (http only to a loopback host while PUBLIC_BASE_URL is loopback)",
    ],
    ["a relative URL", "/hooks", "must be an absolute URL"],
  ])("refuses %s with 400 naming the url, without quoting it", async (_label, url, message) => {
    const response = await call("/v1/admin/webhooks", { method: "POST", body: { url } });

    const problem = await expectProblem(response, 400, "bad-request");
    expect(problem.invalid_params).toEqual([{ path: "url", message }]);
    expect(JSON.stringify(problem)).not.toContain(url);
    expect(await listed()).toEqual([]);
  });

  it("accepts http to a loopback receiver while PUBLIC_BASE_URL is loopback", async () => {
    const created = await subscribeWebhook(service, admin, { url: "http://127.0.0.1:9911/hooks" });

    expect(created.url).toBe("http://127.0.0.1:9911/hooks");
  });

  describe("on a service whose PUBLIC_BASE_URL is https", () => {
    it("accepts an https endpoint", async () => {
      const created = await subscribeWebhook(DEPLOYED, admin, { url: RECEIVER });

      expect(created.url).toBe(RECEIVER);
    });

    it.each([
      [
        "http to a loopback receiver",
        "http://127.0.0.1:9911/hooks",
        "must be https (http only to a loopback host while PUBLIC_BASE_URL is loopback)",
      ],
      ["https to localhost", "https://localhost:9911/hooks", "must not name a loopback, private or link-local host"],
      ["https to a private address", "https://10.1.2.3/hooks", "must not name a loopback, private or link-local host"],
      [
        "https to the link-local metadata address",
        "https://169.254.169.254/latest",
        "must not name a loopback, private or link-local host",
      ],
    ])("refuses %s", async (_label, url, message) => {
      const response = await adminCall(DEPLOYED, admin, "/v1/admin/webhooks", { method: "POST", body: { url } });

      const problem = await expectProblem(response, 400, "bad-request");
      expect(problem.invalid_params).toEqual([{ path: "url", message }]);
    });
  });

  it("refuses an unknown event type with 400 naming where it is", async () => {
    const response = await call("/v1/admin/webhooks", {
      method: "POST",
      body: { url: RECEIVER, events: ["connection.created", "connection.exploded"] },
    });

    const problem = await expectProblem(response, 400, "bad-request");
    expect(problem.invalid_params).toEqual([{ path: "events.1", message: expect.any(String) }]);
    expect(await listed()).toEqual([]);
  });

  it.each([
    ["an empty events list (use enabled:false to pause an endpoint)", { url: RECEIVER, events: [] }],
    ["no url", { events: ["connection.created"] }],
    ["a url that is not a string", { url: 42 }],
    ["a URL over 2,048 characters", { url: `https://receiver.example.com/${"a".repeat(2048)}` }],
    ["a member the API does not know", { url: RECEIVER, secret: "whsec_chosen" }],
    ["a description with a line break", { url: RECEIVER, description: "one\ntwo" }],
    ["a description over 500 characters", { url: RECEIVER, description: "x".repeat(501) }],
  ])("refuses %s with 400", async (_label, body) => {
    const response = await call("/v1/admin/webhooks", { method: "POST", body });

    await expectProblem(response, 400, "bad-request");
    expect(await listed()).toEqual([]);
  });

  it("refuses a body that is not JSON with 400", async () => {
    const response = await call("/v1/admin/webhooks", { method: "POST", body: "{url:" });

    await expectProblem(response, 400, "bad-request");
  });
});

describe("GET /v1/admin/webhooks", () => {
  it("lists every subscription, oldest first, without secrets", async () => {
    const first = await subscribeWebhook(service, admin, { url: RECEIVER, events: ["user.erased"] });
    const second = await subscribeWebhook(service, admin, { url: "https://other.example.com/in", description: "audit mirror" });

    const response = await call("/v1/admin/webhooks");
    const text = await response.text();

    expect(response.status).toBe(200);
    const { webhooks } = JSON.parse(text) as { webhooks: Record<string, unknown>[] };
    expect(webhooks.map((webhook) => webhook.id)).toEqual([first.id, second.id]);
    for (const webhook of webhooks) expect(webhook).not.toHaveProperty("secret");
    expect(text).not.toContain(first.secret.slice("whsec_".length));
    expect(text).not.toContain(second.secret.slice("whsec_".length));
  });

  it("refuses a caller without the admin scope with 403", async () => {
    await subscribeWebhook(service, admin, { url: RECEIVER });

    const response = await service.call(admin, "/v1/admin/webhooks");

    await expectProblem(response, 403, "forbidden");
  });
});

describe("PATCH /v1/admin/webhooks/{id}", () => {
  it("changes the url, events and description, and answers with the subscription", async () => {
    const created = await subscribeWebhook(service, admin, { url: RECEIVER });

    const response = await call(`/v1/admin/webhooks/${created.id}`, {
      method: "PATCH",
      body: { url: "https://new.example.com/hooks", events: ["connection.needs_reauth"], description: "moved" },
    });

    expect(response.status).toBe(200);
    const changed = (await response.json()) as WebhookSubscription;
    expect(changed).toEqual({
      ...viewOf(created),
      url: "https://new.example.com/hooks",
      events: ["connection.needs_reauth"],
      description: "moved",
      updated_at: expect.any(String),
    });
    expect(await listed()).toEqual([changed]);
  });

  it("leaves what the body does not name as it was", async () => {
    const created = await subscribeWebhook(service, admin, { url: RECEIVER, events: ["user.erased"], description: "keep" });

    const response = await call(`/v1/admin/webhooks/${created.id}`, { method: "PATCH", body: { enabled: false } });

    expect(await response.json()).toMatchObject({ url: RECEIVER, events: ["user.erased"], description: "keep", enabled: false });
  });

  it("with events null, subscribes the endpoint to every type again", async () => {
    const created = await subscribeWebhook(service, admin, { url: RECEIVER, events: ["user.erased"] });

    const response = await call(`/v1/admin/webhooks/${created.id}`, { method: "PATCH", body: { events: null } });

    expect(await response.json()).toMatchObject({ events: null });
  });

  it("re-enabling an endpoint that a 410 disabled clears the reason", async () => {
    const created = await subscribeWebhook(service, admin, { url: RECEIVER });
    await disableAsGone(created.id);
    expect((await listed())[0]).toMatchObject({ enabled: false, disabled_reason: "gone" });

    const response = await call(`/v1/admin/webhooks/${created.id}`, { method: "PATCH", body: { enabled: true } });

    expect(await response.json()).toMatchObject({ enabled: true, disabled_reason: null });
    expect(await storedEndpoint(created.id)).toMatchObject({ enabled: true, disabledReason: null });
  });

  it("an operator's disabling carries no reason", async () => {
    const created = await subscribeWebhook(service, admin, { url: RECEIVER });

    const response = await call(`/v1/admin/webhooks/${created.id}`, { method: "PATCH", body: { enabled: false } });

    expect(await response.json()).toMatchObject({ enabled: false, disabled_reason: null });
  });

  it("with an empty body, answers with the subscription unchanged", async () => {
    const created = await subscribeWebhook(service, admin, { url: RECEIVER });
    const before = await storedEndpoint(created.id);

    const response = await call(`/v1/admin/webhooks/${created.id}`, { method: "PATCH", body: {} });

    expect(response.status).toBe(200);
    expect(await storedEndpoint(created.id)).toEqual(before);
  });

  it("refuses an unknown id with 404, and an id of the wrong form with 400", async () => {
    const unknown = await call("/v1/admin/webhooks/wh_doesnotexist", { method: "PATCH", body: { enabled: true } });
    const malformed = await call("/v1/admin/webhooks/conn_abc", { method: "PATCH", body: { enabled: true } });

    await expectProblem(unknown, 404, "not-found");
    await expectProblem(malformed, 400, "bad-request");
  });

  it("refuses a URL the service does not allow, and changes nothing", async () => {
    const created = await subscribeWebhook(DEPLOYED, admin, { url: RECEIVER });

    const response = await adminCall(DEPLOYED, admin, `/v1/admin/webhooks/${created.id}`, {
      method: "PATCH",
      body: { url: "http://receiver.example.com/hooks", description: "would change" },
    });

    const problem = await expectProblem(response, 400, "bad-request");
    expect(problem.invalid_params).toEqual([{ path: "url", message: expect.stringContaining("https") }]);
    expect(await storedEndpoint(created.id)).toMatchObject({ url: RECEIVER, description: "" });
  });

  it("refuses an unknown event type with 400", async () => {
    const created = await subscribeWebhook(service, admin, { url: RECEIVER });

    const response = await call(`/v1/admin/webhooks/${created.id}`, { method: "PATCH", body: { events: ["webhook.tested"] } });

    await expectProblem(response, 400, "bad-request");
  });

  it("refuses a caller without the admin scope with 403 before reading the body", async () => {
    const created = await subscribeWebhook(service, admin, { url: RECEIVER });

    const response = await service.call(admin, `/v1/admin/webhooks/${created.id}`, { method: "PATCH", body: "not json" });

    await expectProblem(response, 403, "forbidden");
  });

  it("is allowed by CORS for the configured browser origins", async () => {
    const response = await callWorker("/v1/admin/webhooks/wh_any", {
      method: "OPTIONS",
      headers: { Origin: "https://app.example.com", "Access-Control-Request-Method": "PATCH" },
    });

    expect(response.headers.get("Access-Control-Allow-Methods")?.split(",")).toContain("PATCH");
  });
});

describe("DELETE /v1/admin/webhooks/{id}", () => {
  it("unsubscribes the endpoint with 204; later calls for it are 404", async () => {
    const created = await subscribeWebhook(service, admin, { url: RECEIVER });

    const response = await call(`/v1/admin/webhooks/${created.id}`, { method: "DELETE" });

    expect(response.status).toBe(204);
    expect(await listed()).toEqual([]);
    expect(await storedEndpoint(created.id)).toBeNull();
    await expectProblem(await call(`/v1/admin/webhooks/${created.id}`, { method: "DELETE" }), 404, "not-found");
    await expectProblem(await call(`/v1/admin/webhooks/${created.id}/rotate-secret`, { method: "POST" }), 404, "not-found");
  });

  it("refuses a caller without the admin scope with 403 and keeps the endpoint", async () => {
    const created = await subscribeWebhook(service, admin, { url: RECEIVER });

    const response = await service.call(admin, `/v1/admin/webhooks/${created.id}`, { method: "DELETE" });

    await expectProblem(response, 403, "forbidden");
    expect(await storedEndpoint(created.id)).not.toBeNull();
  });
});

describe("POST /v1/admin/webhooks/{id}/rotate-secret", () => {
  it("answers with a new secret; the previous one is kept to sign beside it for 24 hours", async () => {
    const created = await subscribeWebhook(service, admin, { url: RECEIVER });
    const before = Date.now();

    const response = await call(`/v1/admin/webhooks/${created.id}/rotate-secret`, { method: "POST" });

    expect(response.status).toBe(200);
    const { secret, ...rest } = (await response.json()) as { secret: string };
    expect(rest).toEqual({});
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(secret).not.toBe(created.secret);
    const row = (await storedEndpoint(created.id))!;
    expect(row.previousSecretCiphertext).not.toBeNull();
    expect(row.previousSecretExpiresAt).toBeGreaterThanOrEqual(before + 24 * 60 * 60_000);
    expect(row.previousSecretExpiresAt).toBeLessThanOrEqual(Date.now() + 24 * 60 * 60_000);
  });

  it("refuses an unknown id with 404 and a caller without the admin scope with 403", async () => {
    const created = await subscribeWebhook(service, admin, { url: RECEIVER });

    await expectProblem(await call("/v1/admin/webhooks/wh_doesnotexist/rotate-secret", { method: "POST" }), 404, "not-found");
    await expectProblem(await service.call(admin, `/v1/admin/webhooks/${created.id}/rotate-secret`, { method: "POST" }), 403, "forbidden");
    expect((await storedEndpoint(created.id))!.previousSecretCiphertext).toBeNull();
  });
});

describe("POST /v1/admin/webhooks/{id}/test", () => {
  it("accepts a test event for a known endpoint with 202", async () => {
    const created = await subscribeWebhook(service, admin, { url: RECEIVER });

    const response = await call(`/v1/admin/webhooks/${created.id}/test`, { method: "POST" });

    expect(response.status).toBe(202);
    expect(await auditRowsOf(admin)).toContainEqual(expect.objectContaining({ action: "webhook.test_requested", outcome: "success" }));
  });

  it("refuses an unknown id with 404 and a caller without the admin scope with 403", async () => {
    const created = await subscribeWebhook(service, admin, { url: RECEIVER });

    await expectProblem(await call("/v1/admin/webhooks/wh_doesnotexist/test", { method: "POST" }), 404, "not-found");
    await expectProblem(await service.call(admin, `/v1/admin/webhooks/${created.id}/test`, { method: "POST" }), 403, "forbidden");
  });

  it("queues one webhook.test event addressed to that endpoint alone", async () => {
    const queued = recordingWebhookQueue();
    const created = await subscribeWebhook(service, admin, { url: RECEIVER });
    await subscribeWebhook(service, admin, { url: RECEIVER });

    expect(
      (await adminCall(apiClient(appWithEnv(queued.env)), admin, `/v1/admin/webhooks/${created.id}/test`, { method: "POST" })).status,
    ).toBe(202);

    expect(queued.queue.take()).toEqual([expect.objectContaining({ kind: "event", type: "webhook.test", endpointIds: [created.id] })]);
  });

  it("answers 503 with Retry-After, records no audit event and logs no secret when the queue refuses the event", async () => {
    const refusing = recordingWebhookQueue();
    vi.spyOn(refusing.queue, "sendBatch").mockRejectedValue(new Error("Queue send failed: overloaded"));
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const created = await subscribeWebhook(service, admin, { url: RECEIVER });

    const response = await adminCall(apiClient(appWithEnv(refusing.env)), admin, `/v1/admin/webhooks/${created.id}/test`, {
      method: "POST",
    });

    await expectProblem(response, 503, "service-unavailable");
    expect(response.headers.get("Retry-After")).toBe("5");
    expect(await auditRowsOf(admin)).not.toContainEqual(expect.objectContaining({ action: "webhook.test_requested" }));
    expect(errors.mock.calls.map(([line]) => JSON.parse(String(line)))).toEqual([
      { message: "webhook test event not queued", endpointId: created.id, error: "Error" },
    ]);
    expect(errors.mock.calls.flat().join(" ")).not.toContain(created.secret.slice("whsec_".length));
  });
});

describe("GET /v1/admin/webhooks/{id}/deliveries", () => {
  /** Attempts of `endpointId`, one a minute from `start`: attempt i is event `evt_{i}`. */
  async function recordAttempts(endpointId: string, count: number, start: number): Promise<void> {
    for (let index = 0; index < count; index++) {
      await recordWebhookDelivery(database(env.DB), {
        id: `whd_${endpointId}_${index}`,
        endpointId,
        eventId: `msg_${index}`,
        eventType: "connection.created",
        attempt: 1,
        status: index === 0 ? "failed" : "delivered",
        responseStatus: index === 0 ? 503 : 204,
        error: index === 0 ? "http_status" : null,
        at: start + index * 60_000,
        nextAttemptAt: index === 0 ? start + 30_000 : null,
      });
    }
  }

  it("lists an endpoint's attempts newest first, a page at a time, and no other endpoint's", async () => {
    const created = await subscribeWebhook(service, admin, { url: RECEIVER });
    const other = await subscribeWebhook(service, admin, { url: RECEIVER });
    const start = Date.parse("2026-03-01T10:00:00.000Z");
    await recordAttempts(created.id, 5, start);
    await recordAttempts(other.id, 2, start);

    const pages: { deliveries: Record<string, unknown>[]; next_cursor: string | null }[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? "limit=2" : `limit=2&cursor=${encodeURIComponent(cursor)}`;
      const response = await call(`/v1/admin/webhooks/${created.id}/deliveries?${query}`);
      expect(response.status).toBe(200);
      const page = (await response.json()) as (typeof pages)[number];
      pages.push(page);
      cursor = page.next_cursor;
    } while (cursor !== null);

    expect(pages.map((page) => page.deliveries.map((delivery) => delivery.event_id))).toEqual([
      ["msg_4", "msg_3"],
      ["msg_2", "msg_1"],
      ["msg_0"],
    ]);
    expect(pages.at(-1)!.deliveries[0]).toEqual({
      event_id: "msg_0",
      type: "connection.created",
      attempt: 1,
      status: "failed",
      response_status: 503,
      error: "http_status",
      at: "2026-03-01T10:00:00.000Z",
      next_attempt_at: "2026-03-01T10:00:30.000Z",
    });
  });

  it("answers an endpoint without attempts with an empty page", async () => {
    const created = await subscribeWebhook(service, admin, { url: RECEIVER });

    const response = await call(`/v1/admin/webhooks/${created.id}/deliveries`);

    expect(await response.json()).toEqual({ deliveries: [], next_cursor: null });
  });

  it.each([
    ["a cursor it did not issue", "cursor=not-a-cursor"],
    ["a limit of 0", "limit=0"],
    ["a limit over 200", "limit=201"],
  ])("refuses %s with 400", async (_label, query) => {
    const created = await subscribeWebhook(service, admin, { url: RECEIVER });

    const response = await call(`/v1/admin/webhooks/${created.id}/deliveries?${query}`);

    await expectProblem(response, 400, "bad-request");
  });

  it("refuses an unknown id with 404 and a caller without the admin scope with 403", async () => {
    const created = await subscribeWebhook(service, admin, { url: RECEIVER });

    await expectProblem(await call("/v1/admin/webhooks/wh_doesnotexist/deliveries"), 404, "not-found");
    await expectProblem(await service.call(admin, `/v1/admin/webhooks/${created.id}/deliveries`), 403, "forbidden");
  });
});

describe("the secret", () => {
  it("appears in the create and rotate answers only: not in other answers, audit rows or log lines", async () => {
    const logged: string[] = [];
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        logged.push(args.map(String).join(" "));
      });
    }
    const created = await subscribeWebhook(service, admin, { url: RECEIVER });
    const answers: string[] = [];
    const keep = async (response: Response) => answers.push(await response.text());
    await keep(await call(`/v1/admin/webhooks/${created.id}`, { method: "PATCH", body: { description: "renamed", enabled: false } }));
    const rotated = (await (await call(`/v1/admin/webhooks/${created.id}/rotate-secret`, { method: "POST" })).json()) as { secret: string };
    await keep(await call(`/v1/admin/webhooks/${created.id}`, { method: "PATCH", body: { enabled: true } }));
    await keep(await call("/v1/admin/webhooks"));
    await keep(await call(`/v1/admin/webhooks/${created.id}/test`, { method: "POST" }));
    await keep(await call(`/v1/admin/webhooks/${created.id}/deliveries`));
    await keep(await call(`/v1/admin/webhooks/${created.id}`, { method: "DELETE" }));
    const audit = await auditRowsOf(admin);

    expect(audit.map((row) => row.action)).toEqual([
      "webhook.created",
      "webhook.updated",
      "webhook.secret_rotated",
      "webhook.updated",
      "webhook.test_requested",
      "webhook.deleted",
    ]);
    for (const secret of [created.secret, rotated.secret]) {
      const key = secret.slice("whsec_".length);
      for (const text of [...answers, ...logged, ...audit.map((row) => row.detail)]) expect(text).not.toContain(key);
    }
  });

  it("is stored encrypted: the ciphertext holds no part of it", async () => {
    const created = await subscribeWebhook(service, admin, { url: RECEIVER });

    const row = (await storedEndpoint(created.id))!;

    expect(row.secretCiphertext).toMatch(/^v1\.k2\./);
    expect(row.keyId).toBe("k2");
    expect(JSON.stringify(row)).not.toContain(created.secret.slice("whsec_".length));
  });
});

describe("the audit trail", () => {
  it("records each operation with the endpoint id and the URL's origin only, never its path or query", async () => {
    const created = await subscribeWebhook(service, admin, { url: "https://hooks.example.com/services/T000/B000/XXXXSECRET?token=abc" });
    await call(`/v1/admin/webhooks/${created.id}`, { method: "PATCH", body: { events: ["user.erased"], enabled: false } });
    await call(`/v1/admin/webhooks/${created.id}/rotate-secret`, { method: "POST" });
    await call(`/v1/admin/webhooks/${created.id}`, { method: "DELETE" });

    const audit = await auditRowsOf(admin);

    expect(audit.map((row) => [row.action, row.outcome, JSON.parse(row.detail)])).toEqual([
      ["webhook.created", "success", { endpoint_id: created.id, url_origin: "https://hooks.example.com", events: "all", enabled: true }],
      [
        "webhook.updated",
        "success",
        {
          endpoint_id: created.id,
          url_origin: "https://hooks.example.com",
          events: "user.erased",
          changed: "enabled,events",
          enabled: false,
        },
      ],
      [
        "webhook.secret_rotated",
        "success",
        {
          endpoint_id: created.id,
          url_origin: "https://hooks.example.com",
          events: "user.erased",
          previous_secret_until: expect.any(String),
        },
      ],
      ["webhook.deleted", "success", { endpoint_id: created.id, url_origin: "https://hooks.example.com", events: "user.erased" }],
    ]);
    for (const row of audit) expect(row.detail).not.toMatch(/XXXXSECRET|token=abc/);
  });
});

describe("the routes", () => {
  it("are described in the OpenAPI document", async () => {
    const document = (await (await callWorker("/openapi.json")).json()) as { paths: Record<string, Record<string, unknown>> };

    expect(Object.keys(document.paths["/v1/admin/webhooks"]!).sort()).toEqual(["get", "post"]);
    expect(Object.keys(document.paths["/v1/admin/webhooks/{id}"]!).sort()).toEqual(["delete", "patch"]);
    expect(document.paths["/v1/admin/webhooks/{id}/rotate-secret"]).toHaveProperty("post");
    expect(document.paths["/v1/admin/webhooks/{id}/test"]).toHaveProperty("post");
    expect(document.paths["/v1/admin/webhooks/{id}/deliveries"]).toHaveProperty("get");
  });

  it("answer another method with 405 naming the allowed ones", async () => {
    const response = await call("/v1/admin/webhooks/wh_any", { method: "PUT", body: { url: RECEIVER } });

    await expectProblem(response, 405, "method-not-allowed");
    expect(response.headers.get("Allow")).toBe("PATCH, DELETE");
  });
});
