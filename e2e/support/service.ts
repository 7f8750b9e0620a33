/**
 * The shared test toolkit (test/support/) bound to the running service and the local issuers: the end-to-end tests
 * talk to `wrangler dev` the way an application's backend and a user's browser do, and to the issuers' control APIs
 * to script faults and count what reached them.
 */
import { inject } from "vitest";
import { apiClient, type Connection } from "../../test/support/api-client";
import { LOCAL_OIDC_ID } from "../../test/support/bindings";
import { authorizeInBrowser as authorizeIn, connectAccount, type AtCallback } from "../../test/support/connect-flow";
import { Browser } from "../../test/support/cookie-browser";
import { mockProviderControl } from "../../test/support/mock-control";
import { sendOverNodeHttp } from "../../test/support/node-http";
import { localOidcControl } from "../../test/support/oidc-control";
import type {} from "./endpoints";

export const RETURN_TO_ORIGIN = "http://localhost:3000";

export function endpoints() {
  return inject("e2e");
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

const service = apiClient((path, init) => fetch(`${endpoints().serviceOrigin}${path}`, init));
export const { call: api, json: apiJson, vend, vendOk, connection: getConnection, beginConnect, auditEvents, connectSession } = service;

const mock = mockProviderControl(endpoints().mockProviderOrigin);
export const { scriptTokenResponses, flowState: mockFlowState, refreshGrants, expireAccessToken } = mock;

const oidc = localOidcControl(endpoints().oidcIssuer);
export const { events: oidcEvents, userinfoStatus, revoke: revokeAtIssuer } = oidc;

/**
 * Runs the cron trigger as the platform would (`wrangler dev --test-scheduled`); resolves when it finished, which is
 * once it queued its scans: the local queues' consumers refresh afterwards (poll for the outcome).
 */
export async function runCron(): Promise<void> {
  const response = await fetch(`${endpoints().serviceOrigin}/__scheduled?cron=*/5+*+*+*+*`);
  if (response.status !== 200) throw new Error(`/__scheduled: ${response.status} ${await response.text()}`);
}

// --- The connect flow, as a browser goes through it ---

/** A browser of its own, over node:http: Node's global fetch would announce every navigation as a CORS request. */
export function newBrowser(): Browser {
  return new Browser({ transport: sendOverNodeHttp });
}

/** Opens the start URL in a new browser and follows the provider back to the service's callback (connect-flow.ts). */
export async function authorizeInBrowser(
  startUrl: string,
  providerParams: Record<string, string>,
): Promise<AtCallback & { browser: Browser }> {
  const browser = newBrowser();
  return { browser, ...(await authorizeIn(browser, startUrl, providerParams)) };
}

export interface Connected {
  userId: string;
  connection: Connection;
  /** The mock flow id, or the oidc-provider account id (`login_hint`). */
  flow: string;
}

/** The whole flow without `return_to`: the callback answers `200 {"connection"}`. */
async function connectWith(userId: string, provider: string, providerParams: Record<string, string>, flow: string): Promise<Connected> {
  const response = await connectAccount(service, newBrowser(), userId, provider, { providerParams });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`callback: ${response.status} ${text}`);
  return { userId, connection: (JSON.parse(text) as { connection: Connection }).connection, flow };
}

/** Connects an account at the local oidc-provider; the account id is the flow. */
export function connectLocalOidc(userId: string, account = `acct-${crypto.randomUUID().slice(0, 8)}`): Promise<Connected> {
  return connectWith(userId, LOCAL_OIDC_ID, { login_hint: account }, account);
}

/** Connects a mock provider under a flow id of its own; `expiresIn` is the code exchange's `expires_in`. */
export function connectMock(
  userId: string,
  provider: "google" | "microsoft" | "notion",
  options: { flow?: string; expiresIn?: number } = {},
): Promise<Connected> {
  const flow = options.flow ?? `e2e-${provider}-${crypto.randomUUID()}`;
  const params: Record<string, string> = { mock_flow: flow };
  if (options.expiresIn !== undefined) params.mock_expires_in = JSON.stringify(options.expiresIn);
  return connectWith(userId, provider, params, flow);
}
