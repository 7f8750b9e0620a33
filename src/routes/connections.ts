import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { presentConnection } from "../connections/present";
import { userVault } from "../refresh/user-vault";
import { ProblemError } from "../errors";
import { database } from "../storage/database";
import { findConnection, listConnections } from "../storage/connections";
import { createRouter } from "./router";
import { AUTHENTICATED_PROBLEMS, BEARER, ConnectionIdParam, ConnectionSchema, problem } from "./schemas";

/** Where a consent change came from, for the consent history. */
export function clientOf(c: Context<AppEnv>): { ip: string | null; userAgent: string | null } {
  return { ip: c.req.header("CF-Connecting-IP") ?? null, userAgent: c.req.header("User-Agent")?.slice(0, 512) ?? null };
}

const notFound = () => new ProblemError("not-found", "There is no such connection.");

const list = createRoute({
  method: "get",
  path: "/v1/connections",
  tags: ["Connections"],
  summary: "The caller's connections",
  security: BEARER,
  responses: {
    200: {
      description: "Connections, oldest first",
      content: { "application/json": { schema: z.object({ connections: z.array(ConnectionSchema) }) } },
    },
    ...AUTHENTICATED_PROBLEMS,
  },
});

const read = createRoute({
  method: "get",
  path: "/v1/connections/{id}",
  tags: ["Connections"],
  summary: "One of the caller's connections",
  security: BEARER,
  request: { params: ConnectionIdParam },
  responses: {
    200: { description: "The connection", content: { "application/json": { schema: ConnectionSchema } } },
    ...AUTHENTICATED_PROBLEMS,
    404: problem("Not the caller's connection, or removed"),
  },
});

const remove = createRoute({
  method: "delete",
  path: "/v1/connections/{id}",
  tags: ["Connections"],
  summary: "Disconnect: wipe the tokens and remove the connection",
  security: BEARER,
  request: { params: ConnectionIdParam },
  responses: {
    204: { description: "Removed" },
    ...AUTHENTICATED_PROBLEMS,
    404: problem("Not the caller's connection, or already removed"),
  },
});

export const connectionRoutes = createRouter()
  .openapi(list, async (c) => {
    const rows = await listConnections(database(c.env.DB), { userId: c.get("caller").userId });
    return c.json({ connections: rows.map(presentConnection) }, 200);
  })
  .openapi(read, async (c) => {
    const connectionId = c.req.valid("param").id;
    const row = await findConnection(database(c.env.DB), { userId: c.get("caller").userId, id: connectionId });
    if (!row) {
      // Another user's id or a removed one: worth a trace, since probing ids is how cross-user access starts.
      c.get("audit").defer({ action: "connection.read", outcome: "failure", connectionId, detail: { reason: "not_found" } });
      throw notFound();
    }
    return c.json(presentConnection(row), 200);
  })
  .openapi(remove, async (c) => {
    const { userId } = c.get("caller");
    const connectionId = c.req.valid("param").id;
    const removed = await userVault(c.env, userId).remove({ userId, connectionId, ...clientOf(c) });
    if (removed.kind === "not_found") {
      c.get("audit").defer({ action: "connection.removed", outcome: "failure", connectionId, detail: { reason: "not_found" } });
      throw notFound();
    }
    return c.body(null, 204);
  });
