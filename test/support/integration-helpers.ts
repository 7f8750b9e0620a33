/**
 * Helpers for the integration, history, rate-limit and erasure tests inside workerd: activating integrations,
 * finishing an authorization the service handed out, and reading consents and audit rows.
 */
import { env } from "cloudflare:workers";
import { expect, inject } from "vitest";
import { AppBrowser, appWithEnv, type AppFetch } from "./app-with-env";
import { rewriteQuery } from "./browser";
import { authHeaders, type CallerTokenOptions } from "./caller-token";
import { connectAccount } from "./flows";
import { callWorker, WORKER_ORIGIN } from "./worker";

/** A user id of its own per test, so parallel files and tests never share rows or a Durable Object. */
export function freshUser(label: string): string {
  return `${label}-${crypto.randomUUID()}`;
}

export type Call = AppFetch;

/** The Worker under test (the test bindings). */
export const workerCall: Call = (path, init) => callWorker(path, init);

/** The app run with `appEnv` (e.g. other OIDC_PROVIDERS), waiting for its after-response work (audit). */
export const appCall = appWithEnv;

export interface FinishedAuthorization {
  /** The provider authorization URL the service's start URL redirected to (before `providerParams`). */
  providerUrl: URL;
  /** The callback's response. */
  callback: Response;
}

/** Opens the service's start URL in a fresh browser, adds `providerParams` at the provider, and requests the callback. */
export async function finishAuthorization(
  startUrl: string,
  providerParams: Record<string, string> = {},
  call: Call = workerCall,
): Promise<FinishedAuthorization> {
  const browser = new AppBrowser(call);
  const start = await browser.follow(startUrl, { stopBefore: () => true });
  expect(start.response.status).toBe(302);
  const providerUrl = start.stoppedAt!;
  const atProvider = await browser.follow(rewriteQuery(providerUrl, providerParams), {
    stopBefore: (next) => next.origin === WORKER_ORIGIN && next.pathname.endsWith("/callback"),
  });
  if (!atProvider.stoppedAt)
    throw new Error(`the provider did not redirect back: ${atProvider.response.status} ${atProvider.chain.join(" -> ")}`);
  return { providerUrl, callback: await browser.request(atProvider.stoppedAt) };
}

/** Connects a Google account at the mock (`account` picks its `sub`); returns the connection id. */
export async function connectGoogle(userId: string, options: { scopes?: string[]; account?: string; flow?: string } = {}): Promise<string> {
  const providerParams: Record<string, string> = { mock_flow: options.flow ?? `int-${crypto.randomUUID()}` };
  if (options.account !== undefined)
    providerParams.mock_account = JSON.stringify({ sub: options.account, email: `${options.account}@example.com` });
  const response = await connectAccount(userId, "google", { ...(options.scopes ? { scopes: options.scopes } : {}), providerParams });
  expect(response.status, await response.clone().text()).toBe(200);
  return ((await response.json()) as { connection: { id: string } }).connection.id;
}

export async function jsonHeaders(userId: string, options: CallerTokenOptions = {}): Promise<Record<string, string>> {
  return { ...(await authHeaders(userId, options)), "Content-Type": "application/json" };
}

export type ActivationAnswer = { status: "active" } | { status: "authorization_required"; authorization_url: string };

/** `POST /v1/integrations/{key}/activate`; returns the raw response. */
export async function activate(
  userId: string,
  key: string,
  body: Record<string, unknown> = {},
  call: Call = workerCall,
): Promise<Response> {
  return call(`/v1/integrations/${key}/activate`, { method: "POST", headers: await jsonHeaders(userId), body: JSON.stringify(body) });
}

/** Activates and expects a 200; returns the body. */
export async function activateOk(
  userId: string,
  key: string,
  body: Record<string, unknown> = {},
  call: Call = workerCall,
): Promise<ActivationAnswer> {
  const response = await activate(userId, key, body, call);
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as ActivationAnswer;
}

export async function deactivate(userId: string, key: string, call: Call = workerCall): Promise<Response> {
  return call(`/v1/integrations/${key}/deactivate`, { method: "POST", headers: await authHeaders(userId) });
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
export async function integrations(userId: string, call: Call = workerCall): Promise<Map<string, IntegrationView>> {
  const response = await call("/v1/integrations", { headers: await authHeaders(userId) });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { integrations: IntegrationView[] };
  return new Map(body.integrations.map((integration) => [integration.key, integration]));
}

export async function integration(userId: string, key: string, call: Call = workerCall): Promise<IntegrationView> {
  const found = (await integrations(userId, call)).get(key);
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

export async function consentPage(userId: string, query: Record<string, string> = {}, call: Call = workerCall): Promise<Page<ConsentView>> {
  const response = await call(`/v1/consents?${new URLSearchParams(query)}`, { headers: await authHeaders(userId) });
  expect(response.status, await response.clone().text()).toBe(200);
  const body = (await response.json()) as { consents: ConsentView[]; next_cursor: string | null };
  return { items: body.consents, next_cursor: body.next_cursor };
}

/** Every consent of the user through the API, newest first. */
export async function allConsents(userId: string, call: Call = workerCall): Promise<ConsentView[]> {
  return (await consentPage(userId, { limit: "200" }, call)).items;
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

/** `GET /__control/flows/<id>` of the mock providers: every token the mock issued for that flow. */
export async function mockIssuedTokens(flow: string): Promise<string[]> {
  const response = await fetch(`${inject("mockProviderOrigin")}/__control/flows/${flow}`);
  expect(response.status).toBe(200);
  const state = (await response.json()) as { refresh_tokens: { token: string }[]; access_tokens: { token: string }[] };
  return [...state.refresh_tokens, ...state.access_tokens].map((entry) => entry.token);
}
