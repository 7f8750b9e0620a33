/**
 * The service's API as an application's backend calls it, in workerd and in Node: a caller JWT per call
 * (./caller-token.ts), JSON bodies, and the calls most tests make. Where requests go is the caller's choice:
 *
 *   apiClient(callWorker)                                                   // workerd: the Worker's own fetch handler
 *   apiClient((path, init) => fetch(`${serviceOrigin}${path}`, init))       // e2e: wrangler dev over the network
 *   apiClient((path, init) => sendOverNodeHttp(new Request(`${origin}${path}`, init)))  // bench: a connection per call
 *
 * Failures of the `…Ok`-style helpers are thrown as errors carrying the status and body: no assertion library, so the
 * bench (outside any test runner) uses the same client.
 */
import type { ConnectionView } from "../../src/connections/present";
import { authHeaders, type CallerTokenOptions } from "./caller-token";

/** Sends a request for `path` (with its query) on the service and resolves with the response. */
export type SendToService = (path: string, init: RequestInit) => Promise<Response>;

/**
 * Who calls: a user id (a caller JWT is signed for that call), or the headers of a JWT signed beforehand with
 * `authHeaders`, so a burst of calls shares one token and no call's timing includes signing.
 */
export type Caller = string | { Authorization: string };

export interface ApiOptions extends CallerTokenOptions {
  method?: string;
  /** Sent as JSON; a string is sent as it is (a malformed body). */
  body?: unknown;
}

export interface VendBody {
  min_validity_seconds?: number;
  force_refresh?: boolean;
  rejected_token?: string;
  required_scopes?: string[];
}

export interface VendedToken {
  access_token: string;
  token_type: string;
  expires_at: string | null;
  scopes: string[];
}

/** The service's own `Connection` shape: tests read exactly what clients read. */
export type Connection = ConnectionView;

export interface ConnectBody {
  scopes?: string[];
  return_to?: string;
}

export interface ConnectStarted {
  authorization_url: string;
  expires_at: string;
}

/** `POST /v1/connect-sessions` (docs/http-api.md, "Connect sessions and the connect page"). */
export interface ConnectSessionBody {
  integrations?: string[];
  providers?: string[];
  return_to?: string;
  opener_origin?: string;
  end_user?: { display_name?: string; email?: string };
  locale?: string;
}

export interface ConnectSessionCreated {
  connect_url: string;
  expires_at: string;
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

/** The power of the application's backend: vending tokens, asking for connect links. */
const BACKEND_TOKEN: CallerTokenOptions = { scope: "connections:token" };

export interface ApiClient {
  /** One call as `caller`. */
  call(caller: Caller, path: string, options?: ApiOptions): Promise<Response>;
  /** `call`, expecting a 2xx JSON answer. */
  json<T>(caller: Caller, path: string, options?: ApiOptions): Promise<T>;
  /** `POST /v1/connections/{id}/token` with `connections:token` (or the given token claims). */
  vend(caller: Caller, connectionId: string, body?: VendBody | string, token?: CallerTokenOptions): Promise<Response>;
  /** `vend`, expecting a 200. */
  vendOk(caller: Caller, connectionId: string, body?: VendBody): Promise<VendedToken>;
  /** `GET /v1/connections/{id}`. */
  connection(caller: Caller, connectionId: string): Promise<Connection>;
  /** `POST /v1/connect/{provider}`, expecting a 201 with the service's start URL. */
  beginConnect(caller: Caller, provider: string, body?: ConnectBody): Promise<ConnectStarted>;
  /** The caller's audit events (one page of up to 200, newest first), optionally of one action. */
  auditEvents(caller: Caller, action?: string): Promise<AuditEvent[]>;
  /** `POST /v1/connect-sessions` as the application's backend (`connections:token`), expecting a 201 with the link. */
  connectSession(caller: Caller, body?: ConnectSessionBody): Promise<ConnectSessionCreated>;
}

export function apiClient(send: SendToService): ApiClient {
  const call: ApiClient["call"] = async (caller, path, options = {}) => {
    const { method = "GET", body, ...token } = options;
    const headers: Record<string, string> = typeof caller === "string" ? await authHeaders(caller, token) : { ...caller };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return send(path, {
      method,
      headers,
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
  };

  /** The answer's JSON when its status is `expected` (or any 2xx); else an error naming the call, the status and the body. */
  const expectJson = async <T>(response: Response, what: string, expected?: number): Promise<T> => {
    const ok = expected === undefined ? response.status >= 200 && response.status <= 299 : response.status === expected;
    if (!ok) throw new Error(`${what}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };

  const client: ApiClient = {
    call,
    json: async <T>(caller: Caller, path: string, options: ApiOptions = {}) =>
      expectJson<T>(await call(caller, path, options), `${options.method ?? "GET"} ${path}`),
    vend: (caller, connectionId, body = {}, token = BACKEND_TOKEN) =>
      call(caller, `/v1/connections/${connectionId}/token`, { ...token, method: "POST", body }),
    vendOk: async (caller, connectionId, body = {}) =>
      expectJson<VendedToken>(await client.vend(caller, connectionId, body), `vend ${connectionId}`, 200),
    connection: (caller, connectionId) => client.json<Connection>(caller, `/v1/connections/${connectionId}`),
    beginConnect: async (caller, provider, body = {}) =>
      expectJson<ConnectStarted>(
        await call(caller, `/v1/connect/${provider}`, { method: "POST", body }),
        `POST /v1/connect/${provider}`,
        201,
      ),
    auditEvents: async (caller, action) => {
      const query = new URLSearchParams({ limit: "200", ...(action === undefined ? {} : { action }) });
      return (await client.json<{ events: AuditEvent[] }>(caller, `/v1/audit?${query}`)).events;
    },
    connectSession: async (caller, body = {}) =>
      expectJson<ConnectSessionCreated>(
        await call(caller, "/v1/connect-sessions", { ...BACKEND_TOKEN, method: "POST", body }),
        "POST /v1/connect-sessions",
        201,
      ),
  };
  return client;
}
