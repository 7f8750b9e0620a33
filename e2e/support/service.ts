/**
 * How the end-to-end tests talk to the running service, the way an application's backend and a user's browser do,
 * and to the control APIs of the local issuers (to script faults and count what reached them).
 */
import { randomUUID } from "node:crypto";
import { expect, inject } from "vitest";
import { LOCAL_OIDC_CLIENT, LOCAL_OIDC_ID } from "../../test/support/bindings";
import { authHeaders } from "../../test/support/caller-token";
import type { MockBehaviour } from "../../test/support/mock-provider-server/state";
import { Browser, rewriteQuery } from "../../test/support/cookie-browser";
import type {} from "./endpoints";
import type { ConnectionView } from "../../src/connections/present";

export const RETURN_TO_ORIGIN = "http://localhost:3000";

export function endpoints() {
  return inject("e2e");
}

/** A user id of its own for each scenario, so scenarios never see each other's connections or history. */
export function newUserId(label: string): string {
  return `e2e-${label}-${randomUUID().slice(0, 8)}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

export interface ApiOptions {
  method?: string;
  body?: unknown;
  /** The caller JWT's `scope` claim. */
  scope?: string;
}

/** One call to the service's API as `userId`'s caller JWT. */
export async function api(userId: string, path: string, options: ApiOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...(await authHeaders(userId, options.scope === undefined ? {} : { scope: options.scope })) };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(`${endpoints().serviceOrigin}${path}`, {
    method: options.method ?? "GET",
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
}

/** `api` expecting 2xx JSON. */
export async function apiJson<T>(userId: string, path: string, options: ApiOptions = {}): Promise<T> {
  const response = await api(userId, path, options);
  if (response.status < 200 || response.status > 299)
    throw new Error(`${options.method ?? "GET"} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** The service's own `Connection` shape: the e2e suite reads exactly what clients read. */
export type Connection = ConnectionView;

export interface VendedToken {
  access_token: string;
  token_type: string;
  expires_at: string | null;
  scopes: string[];
}

export interface VendBody {
  min_validity_seconds?: number;
  force_refresh?: boolean;
  rejected_token?: string;
  required_scopes?: string[];
}

/** `POST /v1/connections/{id}/token` as the application's backend (scope `connections:token`). */
export function vend(userId: string, connectionId: string, body: VendBody = {}): Promise<Response> {
  return api(userId, `/v1/connections/${connectionId}/token`, { method: "POST", body, scope: "connections:token" });
}

export async function vendOk(userId: string, connectionId: string, body: VendBody = {}): Promise<VendedToken> {
  const response = await vend(userId, connectionId, body);
  if (response.status !== 200) throw new Error(`vend ${connectionId}: ${response.status} ${await response.text()}`);
  return (await response.json()) as VendedToken;
}

export function getConnection(userId: string, connectionId: string): Promise<Connection> {
  return apiJson<Connection>(userId, `/v1/connections/${connectionId}`);
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  [extension: string]: unknown;
}

/** Asserts an RFC 9457 problem with `status` and a `type` ending in `typeSuffix`; returns its body. */
export async function expectProblem(response: Response, status: number, typeSuffix: string): Promise<Problem> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(text) as Problem;
  expect(body.status).toBe(status);
  expect(body.type.endsWith(typeSuffix), `type ${body.type}`).toBe(true);
  return body;
}

export interface AuditEvent {
  id: string;
  at: string;
  user_id: string | null;
  actor: string;
  action: string;
  provider: string | null;
  connection_id: string | null;
  outcome: "success" | "failure";
  detail: Record<string, string | number | boolean | null>;
}

/** The user's audit events (one page of up to 200, newest first), optionally of one action. */
export async function auditEvents(userId: string, action?: string): Promise<AuditEvent[]> {
  const query = new URLSearchParams({ limit: "200", ...(action === undefined ? {} : { action }) });
  return (await apiJson<{ events: AuditEvent[] }>(userId, `/v1/audit?${query}`)).events;
}

/** Runs the cron trigger as the platform would (`wrangler dev --test-scheduled`); resolves when it finished. */
export async function runCron(): Promise<void> {
  const response = await fetch(`${endpoints().serviceOrigin}/__scheduled?cron=*/5+*+*+*+*`);
  const text = await response.text();
  expect(response.status, text).toBe(200);
}

// --- The connect flow, as a browser goes through it ---

export interface AtCallback {
  browser: Browser;
  /** The response of the service's start URL (sets the browser-binding cookie). */
  startResponse: Response;
  /** The provider's redirect back to the service's callback, not requested yet. */
  callbackUrl: URL;
}

/** `POST /v1/connect/{provider}` as `userId`; returns the service's start URL. */
export async function beginConnect(
  userId: string,
  provider: string,
  body: { scopes?: string[]; return_to?: string } = {},
): Promise<{ authorization_url: string; expires_at: string }> {
  const response = await api(userId, `/v1/connect/${provider}`, { method: "POST", body });
  const text = await response.text();
  expect(response.status, text).toBe(201);
  return JSON.parse(text) as { authorization_url: string; expires_at: string };
}

/**
 * Opens the start URL in a new browser, adds `providerParams` to the provider's authorization URL (a login hint,
 * mock provider steering) and follows the provider (oidc-provider: authorize, interaction, resume) until it
 * redirects back to the service's callback.
 */
export async function authorizeInBrowser(startUrl: string, providerParams: Record<string, string>): Promise<AtCallback> {
  const browser = new Browser();
  const start = await browser.follow(startUrl, { stopBefore: () => true });
  expect(start.response.status).toBe(302);
  const toCallback = (next: URL) => next.origin === endpoints().serviceOrigin && next.pathname.endsWith("/callback");
  const atProvider = await browser.follow(rewriteQuery(start.stoppedAt!, providerParams), { stopBefore: toCallback });
  if (!atProvider.stoppedAt)
    throw new Error(`no redirect back to the service: ${atProvider.response.status} ${atProvider.chain.join(" -> ")}`);
  return { browser, startResponse: start.response, callbackUrl: atProvider.stoppedAt };
}

export interface Connected {
  userId: string;
  connection: Connection;
  /** The mock flow id, or the oidc-provider account id (`login_hint`). */
  flow: string;
}

/** The whole flow without `return_to`: the callback answers `200 {"connection"}`. */
async function connectWith(userId: string, provider: string, providerParams: Record<string, string>, flow: string): Promise<Connected> {
  const { authorization_url } = await beginConnect(userId, provider);
  const { browser, callbackUrl } = await authorizeInBrowser(authorization_url, providerParams);
  const response = await browser.request(callbackUrl);
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return { userId, connection: (JSON.parse(text) as { connection: Connection }).connection, flow };
}

/** Connects an account at the local oidc-provider; the account id is the flow. */
export function connectLocalOidc(userId: string, account = `acct-${randomUUID().slice(0, 8)}`): Promise<Connected> {
  return connectWith(userId, LOCAL_OIDC_ID, { login_hint: account }, account);
}

/** Connects a mock provider under a flow id of its own; `expiresIn` is the code exchange's `expires_in`. */
export function connectMock(
  userId: string,
  provider: "google" | "microsoft" | "notion",
  options: { flow?: string; expiresIn?: number } = {},
): Promise<Connected> {
  const flow = options.flow ?? `e2e-${provider}-${randomUUID()}`;
  const params: Record<string, string> = { mock_flow: flow };
  if (options.expiresIn !== undefined) params.mock_expires_in = JSON.stringify(options.expiresIn);
  return connectWith(userId, provider, params, flow);
}

// --- The mock providers' control API ---

export interface MockFlowState {
  refresh_tokens: { token: string; alive: boolean }[];
  access_tokens: { token: string; alive: boolean }[];
  token_requests: number;
  revocations: number;
}

async function mockControl<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(`${endpoints().mockProviderOrigin}/__control/${path}`, init);
  if (response.status !== 200) throw new Error(`mock control ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** Answers for the flow's next token (refresh) requests, in order. */
export async function scriptTokenResponses(flow: string, responses: MockBehaviour[]): Promise<void> {
  await mockControl(`flows/${encodeURIComponent(flow)}/responses`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ endpoint: "token", responses }),
  });
}

export function mockFlowState(flow: string): Promise<MockFlowState> {
  return mockControl<MockFlowState>(`flows/${encodeURIComponent(flow)}`);
}

/** The refresh-token grants that reached the mock for this flow, with the refresh token each one presented. */
export async function refreshGrants(flow: string): Promise<string[]> {
  const { requests } = await mockControl<{ requests: { path: string; method: string; body: string }[] }>(
    `requests?flow=${encodeURIComponent(flow)}`,
  );
  const fields = (body: string): Record<string, string> => {
    try {
      return JSON.parse(body) as Record<string, string>;
    } catch {
      return Object.fromEntries(new URLSearchParams(body));
    }
  };
  return requests
    .filter((request) => request.method === "POST" && request.path.endsWith("/token"))
    .map((request) => fields(request.body))
    .filter((body) => body.grant_type === "refresh_token")
    .map((body) => body.refresh_token ?? "");
}

// --- The local oidc-provider ---

export interface OidcEvents {
  counts: Record<"authorization_code" | "refresh_token" | "token_error" | "grant_revoked" | "revocation", number>;
  events: { type: string; at: string; detail?: string }[];
}

export async function oidcEvents(account: string): Promise<OidcEvents> {
  const response = await fetch(`${endpoints().oidcIssuer}/__control/events?account=${encodeURIComponent(account)}`);
  return (await response.json()) as OidcEvents;
}

async function oidcDiscovery(): Promise<{ userinfo_endpoint: string; revocation_endpoint: string }> {
  const response = await fetch(`${endpoints().oidcIssuer}/.well-known/openid-configuration`);
  return (await response.json()) as { userinfo_endpoint: string; revocation_endpoint: string };
}

/** The issuer's verdict on an access token: the status of its userinfo endpoint (200 valid, 401 not). */
export async function userinfoStatus(accessToken: string): Promise<number> {
  const response = await fetch((await oidcDiscovery()).userinfo_endpoint, { headers: { Authorization: `Bearer ${accessToken}` } });
  await response.body?.cancel();
  return response.status;
}

/** RFC 7009 revocation at the issuer, as the provider's own account page would do it (ends the whole grant). */
export async function revokeAtIssuer(token: string): Promise<void> {
  const response = await fetch((await oidcDiscovery()).revocation_endpoint, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Authorization: `Basic ${Buffer.from(`${LOCAL_OIDC_CLIENT.clientId}:${LOCAL_OIDC_CLIENT.clientSecret}`).toString("base64")}`,
    },
    body: new URLSearchParams({ token }).toString(),
  });
  expect(response.status).toBe(200);
}
