/**
 * Webhooks in workerd tests: subscriptions, as the admin API makes them (an `admin` caller JWT per call) and as the
 * service stores them, and the events they receive. The Worker runs with a webhook queue binding that keeps what is sent to it
 * (./vault-queues.ts `RecordingQueue`), for its API, its browser flows and the user's vault alike; the test hands the
 * recorded messages to the Worker's own queue handler, whose consumer fans each event out into deliveries and attempts
 * them; a receiver is the mock's `/__control/respond` endpoint, which answers as its query says and logs every
 * request with its headers and body. Signatures are checked by the independent `standardwebhooks` package.
 */
import { env as bindings } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeEach, expect, vi } from "vitest";
import type { EventData } from "../../src/events/payloads";
import type { WebhookEventType } from "../../src/events/event-types";
import { CRON_ORIGIN } from "../../src/audit/audit-sink";
import { createServices } from "../../src/services";
import { database } from "../../src/storage/database";
import { findWebhookEndpoint, type WebhookEndpointRow } from "../../src/storage/webhook-endpoints";
import { rotateSigningSecret, subscribe } from "../../src/webhooks/endpoints";
import { testEvent } from "../../src/events/payloads";
import { publishEvent } from "../../src/events/publish";
import { WEBHOOK_QUEUES, type PendingDelivery, type PublishedEvent, type WebhookMessage } from "../../src/webhooks/queue-messages";
import { apiClient, type ApiClient, type ApiOptions, type SendToService } from "./api-client";
import { appWithEnv, useEnvInVault } from "./app-with-env";
import { Browser } from "./browser";
import { logsOf, type CapturedLogs } from "./logs";
import { newMockId, type MockRequest } from "./mock-control";
import { envWithKeys } from "./seed-connections";
import { mockProvider } from "./toolkit";
import { deliver, RecordingQueue, type Settled } from "./vault-queues";

/** The caller JWT's claims of an operator. */
export const ADMIN_TOKEN = { scope: "admin" } as const;

/** A subscription as `GET /v1/admin/webhooks` lists it. */
export interface WebhookSubscription {
  id: string;
  url: string;
  events: string[] | null;
  enabled: boolean;
  disabled_reason: string | null;
  description: string;
  created_at: string;
  updated_at: string;
}

/** `POST /v1/admin/webhooks`'s answer: the subscription and its secret, shown this once. */
export interface CreatedWebhook extends WebhookSubscription {
  secret: string;
}

export interface WebhookBody {
  url?: string;
  events?: string[] | null;
  enabled?: boolean;
  description?: string;
}

/** One call of the admin API as the operator `admin`. */
export function adminCall(client: ApiClient, admin: string, path: string, options: Omit<ApiOptions, "scope"> = {}): Promise<Response> {
  return client.call(admin, path, { ...ADMIN_TOKEN, ...options });
}

/** `POST /v1/admin/webhooks`, expecting a 201. */
export async function subscribeWebhook(client: ApiClient, admin: string, body: WebhookBody): Promise<CreatedWebhook> {
  const response = await adminCall(client, admin, "/v1/admin/webhooks", { method: "POST", body });
  if (response.status !== 201) throw new Error(`POST /v1/admin/webhooks: ${response.status} ${await response.text()}`);
  return (await response.json()) as CreatedWebhook;
}

/** The Worker with a recording webhook queue, as one user's flows and vault see it. */
export interface WebhookHarness {
  env: Env;
  queue: RecordingQueue<WebhookMessage>;
  /** The app run with `env`, as a client on the network calls it. */
  app: SendToService;
  /** The API through `app`. */
  service: ApiClient;
  /** A browser of its own whose requests to the service go to the app run with `env`. */
  browser(): Browser;
}

/** The Worker's env with a recording webhook queue (`base`: the bindings, or another env). */
export type WebhookQueue = Pick<WebhookHarness, "env" | "queue">;

export function recordingWebhookQueue(base: Env = bindings): WebhookQueue {
  const queue = new RecordingQueue<WebhookMessage>();
  return { env: { ...base, WEBHOOK_QUEUE: queue }, queue };
}

/** Runs the app and `userId`'s vault with a recording webhook queue until the test ends (`base`: another env). */
export async function webhookHarness(userId: string, base: Env = bindings): Promise<WebhookHarness> {
  const { env, queue } = recordingWebhookQueue(base);
  await useEnvInVault(userId, env);
  const app = appWithEnv(env);
  return { env, queue, app, service: apiClient(app), browser: () => new Browser(app) };
}

/** Publishes `webhook.test` to one endpoint as the admin API does, as if it happened `ageMs` ago; into `queue`'s queue. */
export async function publishTestEvent(queue: WebhookQueue, endpointId: string, ageMs = 0): Promise<void> {
  await publishEvent({ env: queue.env, clock: () => Date.now() - ageMs }, testEvent(endpointId));
}

/** An event as a receiver reads its body. */
export interface EventPayload {
  type: WebhookEventType;
  timestamp: string;
  data: EventData;
}

/** The events published so far, each with its `webhook-id` and the payload every attempt sends; taken off the queue. */
export function takePublished(queue: RecordingQueue<WebhookMessage>): { eventId: string; payload: EventPayload }[] {
  const bodies = queue.take();
  expect(bodies.every((body) => body.kind === "event")).toBe(true);
  return (bodies as PublishedEvent[]).map((event) => ({ eventId: event.eventId, payload: JSON.parse(event.body) as EventPayload }));
}

/** The types of the events published so far (taken off the queue). */
export function publishedTypes(queue: RecordingQueue<WebhookMessage>): WebhookEventType[] {
  return takePublished(queue).map((event) => event.payload.type);
}

/** Hands the recorded events to the Worker's queue handler, which fans them out; returns the deliveries it queued (taken). */
export async function fanOutRecorded(queue: WebhookQueue): Promise<PendingDelivery[]> {
  const events = queue.queue.take();
  expect(events.map((message) => message.kind)).toEqual(events.map(() => "event"));
  expect(await deliver(WEBHOOK_QUEUES.deliveries, events, queue.env)).toEqual(events.map(() => ({ acked: true, retried: false })));
  const deliveries = queue.queue.take();
  expect(deliveries.map((message) => message.kind)).toEqual(deliveries.map(() => "delivery"));
  return deliveries as PendingDelivery[];
}

/** Hands `deliveries` to the Worker's queue handler as one batch, each on its `attempt`-th delivery; returns each settlement. */
export function attemptDeliveries(queue: WebhookQueue, deliveries: readonly PendingDelivery[], attempt = 1): Promise<Settled[]> {
  return deliver(WEBHOOK_QUEUES.deliveries, deliveries, queue.env, attempt);
}

/** A receiver at the mock: its URL answers as `answer` says (`status`, `delay_ms`, …) and logs what it received. */
export interface Receiver {
  url: string;
  /** A URL of the same receiver that answers otherwise; what it receives is logged with the rest. */
  answering(answer: Record<string, string>): string;
  /** What it received, in order. */
  requests(): Promise<MockRequest[]>;
}

export function receiver(answer: Record<string, string> = { status: "204" }): Receiver {
  const flow = newMockId("receiver");
  const answering = (other: Record<string, string>) => mockProvider.respondUrl({ ...other, mock_flow: flow });
  return { url: answering(answer), answering, requests: () => mockProvider.requests({ flow }) };
}

/** Points an endpoint at another URL, as an operator's `PATCH` would (a write bumps the row's version). */
export async function pointEndpointAt(endpointId: string, url: string): Promise<void> {
  await bindings.DB.prepare("UPDATE webhook_endpoints SET url = ?, version = version + 1 WHERE id = ?").bind(url, endpointId).run();
}

/** Removes every endpoint and delivery record: for files whose tests list or count them (D1 is per test file). */
export async function deleteAllWebhookEndpoints(): Promise<void> {
  await bindings.DB.batch([bindings.DB.prepare("DELETE FROM webhook_endpoints"), bindings.DB.prepare("DELETE FROM webhook_deliveries")]);
}

/**
 * The hooks of a file whose tests run the delivery consumer: each test starts without endpoints, so its events reach
 * its own endpoints only, and the consumer's one summary line per batch (`console.log`) is captured rather than printed.
 * Returns the running test's capture of those lines.
 */
export function isolateDeliveryTests(): () => CapturedLogs {
  let consumerSummaries: CapturedLogs;
  beforeEach(async () => {
    await deleteAllWebhookEndpoints();
    consumerSummaries = logsOf(vi.spyOn(console, "log").mockImplementation(() => undefined));
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  return () => consumerSummaries;
}

/** The endpoint's stored row, or `null` once deleted. */
export function storedEndpoint(id: string): Promise<WebhookEndpointRow | null> {
  return findWebhookEndpoint(database(bindings.DB), id);
}

export interface Subscribed {
  id: string;
  secret: string;
  /** The secret that still signs beside `secret` after a rotation (`rotated`). */
  previousSecret?: string;
}

/**
 * Subscribes an endpoint through the subscriptions' service, as the admin API does (its secret encrypted under the
 * Worker's key ring) at `now`; `rotated`: its secret rotated once, so deliveries are signed with both for 24 hours;
 * `keys`: as a service with that key ring would, so its secrets are under the ring's first key.
 */
export async function subscribeEndpoint(
  url: string,
  options: { events?: readonly WebhookEventType[] | null; rotated?: boolean; keys?: string; now?: number } = {},
): Promise<Subscribed> {
  const now = options.now ?? Date.now();
  const services = createServices(options.keys === undefined ? bindings : envWithKeys(options.keys), CRON_ORIGIN);
  const created = await subscribe(services, { url, events: options.events ?? null, description: "" }, now);
  const id = created.endpoint.id;
  if (!options.rotated) return { id, secret: created.secret };
  const rotated = await rotateSigningSecret(services, id, now);
  return { id, secret: rotated!, previousSecret: created.secret };
}

/**
 * Subscribes an endpoint (to every type) as a service with the key ring `keys` would at `now`: its secrets are under
 * that ring's first key, as if written before a rotation (or under a key the Worker no longer holds).
 */
export function endpointUnderKeys(keys: string, now = Date.now()): Promise<Subscribed> {
  return subscribeEndpoint("https://receiver.example.com/hooks", { keys, now });
}

/** The request's payload once `standardwebhooks` verified its signature with `secret` (it throws otherwise). */
export function verifiedPayload(request: MockRequest, secret: string): EventPayload {
  return new Webhook(secret).verify(request.body, request.headers) as EventPayload;
}

/** A row of the delivery log as D1 stores it. */
export interface DeliveryLogRow {
  event_id: string;
  event_type: string;
  attempt: number;
  status: string;
  response_status: number | null;
  error: string | null;
  at: number;
  next_attempt_at: number | null;
}

/** The endpoint's delivery log, oldest first. */
export async function deliveryLog(endpointId: string): Promise<DeliveryLogRow[]> {
  const { results } = await bindings.DB.prepare(
    "SELECT event_id, event_type, attempt, status, response_status, error, at, next_attempt_at FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY at, attempt",
  )
    .bind(endpointId)
    .all<DeliveryLogRow>();
  return results;
}
