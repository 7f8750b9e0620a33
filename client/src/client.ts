/**
 * The client an application's backend builds: the service's base URL and a function that gives the caller JWT
 * (README, "Calling the service from your backend"). Every endpoint is reachable, typed, through `api`; the helpers
 * add what each caller would otherwise write itself.
 */
import createFetchClient, { type Client } from "openapi-fetch";
import { createConnectSession } from "./connect-sessions.js";
import type { paths } from "./generated/openapi.js";
import type { ConnectSession, ConnectSessionRequest, VendedToken, VendRequest } from "./schemas.js";
import { vendToken } from "./vend.js";
import { callWithToken } from "./with-token.js";

export interface ConnectionManagerOptions {
  /** The service's origin (its `PUBLIC_BASE_URL`), e.g. `https://connect.example.com`. */
  baseUrl: string;
  /**
   * The caller JWT for each request, signed by your application: `sub` is the user the call is for, `exp` is
   * required, `scope` holds `connections:token` to vend tokens and create connect sessions (and `admin` for the admin
   * API); `iss` and `aud` as the service's `AUTH_JWT_ISSUER` and `AUTH_JWT_AUDIENCE` say. Called once per request:
   * cache the token yourself if signing is costly.
   */
  callerToken: () => string | Promise<string>;
  /**
   * How long one `vend` or `withToken` call may wait in all for the service's `Retry-After` before it throws the
   * `503` as a `ProblemError` (default 30 seconds; 0 never waits).
   */
  maxRetryWaitSeconds?: number;
  /** Sends each request (default: the global `fetch`). */
  fetch?: (request: Request) => Promise<Response>;
}

export interface ConnectionManagerClient {
  /**
   * Every endpoint of the service, typed from its OpenAPI document (openapi-fetch): answers come back as
   * `{ data, error, response }`, errors unthrown.
   */
  api: Client<paths>;
  /** A valid access token for the connection; waits out a `503`'s `Retry-After` within the bound; throws `ProblemError`. */
  vend(connectionId: string, request?: VendRequest): Promise<VendedToken>;
  /**
   * Calls `fn` with a vended token; when `fn` reports the provider's 401 (returns a 401 `Response`, or throws
   * `TokenRejectedError`), vends again with `rejected_token` and calls `fn` once more.
   */
  withToken<T>(connectionId: string, fn: (token: string) => T | Promise<T>, request?: VendRequest): Promise<T>;
  /** A link to the hosted connect page for the JWT's user; throws `ProblemError`. */
  createConnectSession(request?: ConnectSessionRequest): Promise<ConnectSession>;
}

const DEFAULT_MAX_RETRY_WAIT_SECONDS = 30;

export function createConnectionManagerClient(options: ConnectionManagerOptions): ConnectionManagerClient {
  const api = createFetchClient<paths>({ baseUrl: options.baseUrl, ...(options.fetch ? { fetch: options.fetch } : {}) });
  api.use({
    async onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${await options.callerToken()}`);
      return request;
    },
  });
  const maxWaitSeconds = options.maxRetryWaitSeconds ?? DEFAULT_MAX_RETRY_WAIT_SECONDS;
  const vend = (connectionId: string, request: VendRequest = {}) => vendToken(api, connectionId, request, maxWaitSeconds);
  return {
    api,
    vend,
    withToken: (connectionId, fn, request = {}) => callWithToken((body) => vend(connectionId, body), fn, request),
    createConnectSession: (request = {}) => createConnectSession(api, request),
  };
}
