import { createMiddleware } from "hono/factory";
import type { RequestIdVariables } from "hono/request-id";

/** What `requestId` puts on the context: the same variable as hono's own request-id middleware. */
export type { RequestIdVariables };

/**
 * A client's id is kept only in this shape: it is written to audit rows, logs and problem bodies, so it must be
 * short and unable to carry separators, spaces or markup into them.
 */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Names the request with the client's `X-Request-Id` when well formed, else a fresh UUID; echoes it in the response. */
export const requestId = createMiddleware<{ Variables: RequestIdVariables }>(async function requestId(c, next) {
  const sent = c.req.header("X-Request-Id");
  const id = sent !== undefined && CLIENT_REQUEST_ID.test(sent) ? sent : crypto.randomUUID();
  c.set("requestId", id);
  c.header("X-Request-Id", id);
  await next();
});
