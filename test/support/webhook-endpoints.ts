/**
 * Webhook subscriptions in workerd tests: the admin API's calls as an operator makes them (an `admin` caller JWT per
 * call), and the stored rows behind them.
 */
import { env } from "cloudflare:workers";
import { CRON_ORIGIN } from "../../src/audit/audit-sink";
import { createServices } from "../../src/services";
import { database } from "../../src/storage/database";
import { findWebhookEndpoint, type WebhookEndpointRow } from "../../src/storage/webhook-endpoints";
import { subscribe } from "../../src/webhooks/endpoints";
import type { ApiClient, ApiOptions } from "./api-client";
import { envWithKeys } from "./seed-connections";

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

/**
 * Subscribes an endpoint (to every type) as a service with the key ring `keys` would at `now`: its secrets are under
 * that ring's first key, as if written before a rotation (or under a key the Worker no longer holds).
 */
export async function endpointUnderKeys(keys: string, now = Date.now()): Promise<{ id: string; secret: string }> {
  const services = createServices(envWithKeys(keys), CRON_ORIGIN);
  const created = await subscribe(services, { url: "https://receiver.example.com/hooks", events: null, description: "" }, now);
  return { id: created.endpoint.id, secret: created.secret };
}

/** The endpoint's stored row, or `null` once deleted. */
export function storedEndpoint(id: string): Promise<WebhookEndpointRow | null> {
  return findWebhookEndpoint(database(env.DB), id);
}

/** Removes every endpoint and delivery record: for files whose tests list or count them (D1 is per test file). */
export async function deleteAllWebhookEndpoints(): Promise<void> {
  await env.DB.batch([env.DB.prepare("DELETE FROM webhook_endpoints"), env.DB.prepare("DELETE FROM webhook_deliveries")]);
}
