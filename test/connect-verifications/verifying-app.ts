/**
 * The service configured with `CONNECT_VERIFY_URL` (the default test bindings leave it unset), and the steps of a
 * verified flow as an application and its user go through them: connect up to the callback that holds the flow,
 * then verify it with a user's JWT. Rows, audit and the provider's record are read directly.
 */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { flowKeyOf } from "../../src/connect-verifications/flow-id";
import { unverifiedFlow, type UnverifiedFlow } from "../../src/vault/unverified-flow";
import { apiClient, type Connection, type SendToService } from "../support/api-client";
import { appWithEnv } from "../support/app-with-env";
import { LOCAL_OIDC_ID } from "../support/bindings";
import { Browser } from "../support/browser";
import { connectAccount } from "../support/connect-flow";
import { newMockId } from "../support/mock-control";
import { newOidcAccount } from "../support/oidc-control";
import { mockProvider } from "../support/toolkit";

export const VERIFY_URL = "https://app.example.com/connect/verify";
/** The app configured with CONNECT_VERIFY_URL (the default test bindings leave it unset). */
export const verifyingApp = appWithEnv({ ...env, CONNECT_VERIFY_URL: VERIFY_URL } as Env);
export const verifying = apiClient(verifyingApp);

export interface FlowAtVerifyUrl {
  flowId: string;
  /** The callback's response: the redirect to the verify URL. */
  callback: Response;
  /** The mock flow id, or the local oidc-provider account. */
  flow: string;
}

export interface FlowOptions {
  provider?: "google" | typeof LOCAL_OIDC_ID;
  /** The Google account (`sub`) and the mock's grant it belongs to. */
  account?: { sub: string; grant?: string };
  return_to?: string;
  scopes?: string[];
  providerParams?: Record<string, string>;
  /** The service the flow goes through; default: `verifyingApp`. */
  app?: SendToService;
}

/** Google at the mock, or the local oidc-provider: the provider parameters for an account of this flow's own. */
export function providerParams(options: FlowOptions): { flow: string; params: Record<string, string> } {
  if (options.provider === LOCAL_OIDC_ID) {
    const account = newOidcAccount();
    return { flow: account, params: { login_hint: account, ...options.providerParams } };
  }
  const flow = newMockId("verify");
  const { sub, grant } = options.account ?? { sub: `sub-${flow}` };
  return {
    flow,
    params: {
      mock_flow: flow,
      mock_account: JSON.stringify({ sub, email: `${sub}@example.com` }),
      ...(grant === undefined ? {} : { mock_grant: grant }),
      ...options.providerParams,
    },
  };
}

/** The redirect's `flow_id`, after checking that the callback sent the browser to the verify URL. */
export function flowIdOf(callback: Response): string {
  expect(callback.status).toBe(302);
  const location = new URL(callback.headers.get("Location")!);
  expect(`${location.origin}${location.pathname}`).toBe(VERIFY_URL);
  expect([...location.searchParams.keys()]).toEqual(["flow_id"]);
  return location.searchParams.get("flow_id")!;
}

/** `userId` connects through the verifying app up to its callback, which holds the flow for verification. */
export async function heldFlow(userId: string, options: FlowOptions = {}): Promise<FlowAtVerifyUrl> {
  const { flow, params } = providerParams(options);
  const app = options.app ?? verifyingApp;
  const callback = await connectAccount(apiClient(app), new Browser(app), userId, options.provider ?? "google", {
    ...(options.return_to === undefined ? {} : { return_to: options.return_to }),
    ...(options.scopes === undefined ? {} : { scopes: options.scopes }),
    providerParams: params,
  });
  return { flowId: flowIdOf(callback), callback, flow };
}

export function verify(caller: string, flowId: unknown, client = verifying): Promise<Response> {
  return client.call(caller, "/v1/connect-verifications", { method: "POST", body: { flow_id: flowId } });
}

export interface Verified {
  connection: Connection;
  return_to?: string;
  missing_scopes?: string[];
}

export async function verifyOk(caller: string, flowId: string): Promise<Verified> {
  const response = await verify(caller, flowId);
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as Verified;
}

/** The connection each of the user's integration activations uses (`null`: begun, waiting for its authorization). */
export async function activationConnections(userId: string): Promise<(string | null)[]> {
  const { results } = await env.DB.prepare("SELECT connection_id FROM integration_activations WHERE user_id = ?")
    .bind(userId)
    .all<{ connection_id: string | null }>();
  return results.map((row) => row.connection_id);
}

export async function countRows(table: "connections" | "consents", userId: string): Promise<number> {
  const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE user_id = ?`).bind(userId).first<{ n: number }>();
  return row!.n;
}

/** Every audit row that mentions `text` anywhere, of any user. */
export async function auditRowsMentioning(text: string): Promise<unknown[]> {
  const { results } = await env.DB.prepare("SELECT * FROM audit_events").all();
  return results.filter((row) => JSON.stringify(row).includes(text));
}

export async function refreshTokensAlive(flow: string): Promise<boolean[]> {
  return (await mockProvider.flowState(flow)).refresh_tokens.map((token) => token.alive);
}

/** The object holding the flow `flowId` (found as the service finds it: by the flow_id's hash). */
export async function flowObject(flowId: string): Promise<DurableObjectStub<UnverifiedFlow>> {
  return unverifiedFlow(env, await flowKeyOf(flowId));
}
