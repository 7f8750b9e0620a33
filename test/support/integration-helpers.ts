/**
 * Helpers for the integration, history and erasure tests inside workerd: connecting a Google account, activating
 * integrations and reading them, consents and audit rows, through the Worker under test or the app run with another
 * env (`send`, ./app-with-env.ts).
 */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { apiClient, type SendToService } from "./api-client";
import { Browser } from "./browser";
import { connectAccount } from "./connect-flow";
import { newMockId } from "./mock-control";
import { service } from "./toolkit";
import { callWorker } from "./worker";

/** Connects a Google account at the mock (`account` picks its `sub`); returns the connection id. */
export async function connectGoogle(userId: string, options: { scopes?: string[]; account?: string; flow?: string } = {}): Promise<string> {
  const providerParams: Record<string, string> = { mock_flow: options.flow ?? newMockId("int") };
  if (options.account !== undefined)
    providerParams.mock_account = JSON.stringify({ sub: options.account, email: `${options.account}@example.com` });
  const response = await connectAccount(service, new Browser(), userId, "google", {
    ...(options.scopes ? { scopes: options.scopes } : {}),
    providerParams,
  });
  expect(response.status, await response.clone().text()).toBe(200);
  return ((await response.json()) as { connection: { id: string } }).connection.id;
}

export type ActivationAnswer = { status: "active" } | { status: "authorization_required"; authorization_url: string };

/** `POST /v1/integrations/{key}/activate` through `send` (default: the Worker under test); returns the raw response. */
export function activate(userId: string, key: string, body: object = {}, send: SendToService = callWorker): Promise<Response> {
  return apiClient(send).call(userId, `/v1/integrations/${key}/activate`, { method: "POST", body });
}

/** Activates and expects a 200; returns the body. */
export async function activateOk(
  userId: string,
  key: string,
  body: object = {},
  send: SendToService = callWorker,
): Promise<ActivationAnswer> {
  const response = await activate(userId, key, body, send);
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as ActivationAnswer;
}

export function deactivate(userId: string, key: string, send: SendToService = callWorker): Promise<Response> {
  return apiClient(send).call(userId, `/v1/integrations/${key}/deactivate`, { method: "POST" });
}

export interface IntegrationView {
  key: string;
  provider: string;
  scopes: string[];
  status: "active" | "inactive" | "authorization_required" | "needs_reauth";
  missing_scopes: string[];
  connection_id: string | null;
}

/** `GET /v1/integrations`, by key. */
export async function integrations(userId: string, send: SendToService = callWorker): Promise<Map<string, IntegrationView>> {
  const body = await apiClient(send).json<{ integrations: IntegrationView[] }>(userId, "/v1/integrations");
  return new Map(body.integrations.map((integration) => [integration.key, integration]));
}

export async function integration(userId: string, key: string, send: SendToService = callWorker): Promise<IntegrationView> {
  const found = (await integrations(userId, send)).get(key);
  expect(found).toBeDefined();
  return found!;
}

export interface ConsentView {
  id: string;
  kind: string;
  provider: string;
  connection_id: string | null;
  integration: string | null;
  scopes: string[];
  missing_scopes: string[];
  created_at: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export async function consentPage(
  userId: string,
  query: Record<string, string> = {},
  send: SendToService = callWorker,
): Promise<Page<ConsentView>> {
  const path = `/v1/consents?${new URLSearchParams(query)}`;
  const body = await apiClient(send).json<{ consents: ConsentView[]; next_cursor: string | null }>(userId, path);
  return { items: body.consents, next_cursor: body.next_cursor };
}

/** Every consent of the user through the API, newest first. */
export async function allConsents(userId: string, send: SendToService = callWorker): Promise<ConsentView[]> {
  return (await consentPage(userId, { limit: "200" }, send)).items;
}

export interface AuditRowView {
  id: string;
  at: number;
  user_id: string | null;
  action: string;
  outcome: string;
  provider: string | null;
  connection_id: string | null;
  ip: string | null;
  detail: string;
}

/** The user's audit rows straight from D1, oldest first. */
export async function auditRowsOf(userId: string): Promise<AuditRowView[]> {
  const result = await env.DB.prepare(
    "SELECT id, at, user_id, action, outcome, provider, connection_id, ip, detail FROM audit_events WHERE user_id = ? ORDER BY at, id",
  )
    .bind(userId)
    .all<AuditRowView>();
  return result.results;
}
