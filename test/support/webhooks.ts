/**
 * Webhook events in workerd tests. The Worker runs with a webhook queue binding that keeps what is sent to it
 * (./vault-queues.ts `RecordingQueue`), for its API, its browser flows and the user's vault alike; the test hands the
 * recorded messages to the Worker's own queue handler, whose consumer fans each event out into deliveries and attempts
 * them; a receiver is the mock's `/__control/respond` endpoint, which answers as its query says and logs every
 * request with its headers and body. Signatures are checked by the independent `standardwebhooks` package.
 */
import { env as bindings } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { expect } from "vitest";
import type { EventData } from "../../src/events/payloads";
import type { WebhookEventType } from "../../src/events/event-types";
import { CRON_ORIGIN } from "../../src/audit/audit-sink";
import { createServices } from "../../src/services";
import { rotateSigningSecret, subscribe } from "../../src/webhooks/endpoints";
import { testEvent } from "../../src/events/payloads";
import { publishEvent } from "../../src/events/publish";
import { WEBHOOK_QUEUES, type PendingDelivery, type PublishedEvent, type WebhookMessage } from "../../src/webhooks/queue-messages";
import { apiClient, type ApiClient, type SendToService } from "./api-client";
import { appWithEnv, useEnvInVault } from "./app-with-env";
import { Browser } from "./browser";
import { newMockId, type MockRequest } from "./mock-control";
import { mockProvider } from "./toolkit";
import { deliver, RecordingQueue, type Settled } from "./vault-queues";

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

/** Fans the recorded events out and attempts each delivery once; returns each delivery's settlement. */
export async function runWebhookQueue(queue: WebhookQueue): Promise<Settled[]> {
  return attemptDeliveries(queue, await fanOutRecorded(queue));
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

/** Removes every endpoint of this test file's database, so a test's events reach its own endpoints only. */
export async function removeAllEndpoints(): Promise<void> {
  await bindings.DB.prepare("DELETE FROM webhook_endpoints").run();
}

/** An endpoint as D1 stores it (snake_case columns). */
export async function storedEndpoint(endpointId: string): Promise<{ enabled: number; disabled_reason: string | null; version: number }> {
  const row = await bindings.DB.prepare("SELECT enabled, disabled_reason, version FROM webhook_endpoints WHERE id = ?")
    .bind(endpointId)
    .first<{ enabled: number; disabled_reason: string | null; version: number }>();
  expect(row).not.toBeNull();
  return row!;
}

export interface Subscribed {
  id: string;
  secret: string;
  /** The secret that still signs beside `secret` after a rotation (`rotated`). */
  previousSecret?: string;
}

/**
 * Subscribes an endpoint through the subscriptions' service, as the admin API does (its secret encrypted under the
 * Worker's key ring); `rotated`: its secret rotated once, so deliveries are signed with both for 24 hours.
 */
export async function subscribeEndpoint(
  url: string,
  options: { events?: WebhookEventType[]; rotated?: boolean } = {},
): Promise<Subscribed> {
  const services = createServices(bindings, CRON_ORIGIN);
  const created = await subscribe(services, { url, events: options.events ?? null, description: "" }, Date.now());
  const id = created.endpoint.id;
  if (!options.rotated) return { id, secret: created.secret };
  const rotated = await rotateSigningSecret(services, id, Date.now());
  return { id, secret: rotated!, previousSecret: created.secret };
}

/** A `whsec_…` secret as Standard Webhooks shapes them: base64 of 32 random bytes. */
export function newSecret(): string {
  return `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;
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
