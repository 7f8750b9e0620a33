/**
 * `POST /v1/connect-sessions` (docs/http-api.md, "Connect sessions and the connect page"): a link to the hosted
 * connect page for the user the caller JWT names. It needs `connections:token`: only the application's backend may
 * say what the page offers and whom it names.
 */
import type { Client } from "openapi-fetch";
import type { paths } from "./generated/openapi.js";
import { unwrap } from "./problem.js";
import type { ConnectSession, ConnectSessionRequest } from "./schemas.js";

export async function createConnectSession(api: Client<paths>, request: ConnectSessionRequest): Promise<ConnectSession> {
  return unwrap(api.POST("/v1/connect-sessions", { body: request }));
}
