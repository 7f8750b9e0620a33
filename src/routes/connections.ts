import { createRoute, z } from "@hono/zod-openapi";
import { presentConnection } from "../connections/present";
import { userVault } from "../vault/user-vault";
import { requestClient } from "../http/request-client";
import { ProblemError } from "../errors";
import { findConnection, listConnections } from "../storage/connections";
import { createApiRouter } from "../http/routers";
import { ConnectionIdParam, ConnectionSchema, problem } from "../http/schemas";

const notFound = () => new ProblemError("not-found", "There is no such connection.");

const list = createRoute({
  method: "get",
  path: "/v1/connections",
  tags: ["Connections"],
  summary: "The caller's connections",
  responses: {
    200: {
      description: "Connections, oldest first",
      content: { "application/json": { schema: z.object({ connections: z.array(ConnectionSchema) }) } },
    },
  },
});

const read = createRoute({
  method: "get",
  path: "/v1/connections/{id}",
  tags: ["Connections"],
  summary: "One of the caller's connections",
  request: { params: ConnectionIdParam },
  responses: {
    200: { description: "The connection", content: { "application/json": { schema: ConnectionSchema } } },
    404: problem("Not the caller's connection, or removed"),
  },
});

/** Seconds a client is told to wait before repeating a removal that storage could not finish. */
const REMOVAL_RETRY_AFTER_SECONDS = 30;

const remove = createRoute({
  method: "delete",
  path: "/v1/connections/{id}",
  tags: ["Connections"],
  summary: "Disconnect: wipe the tokens and remove the connection",
  description:
    "Wipes the tokens and removes the connection, then revokes the grant at the provider where it offers revocation and no other connection holds the same grant (Google and YouTube of one account share one). A provider failure never stops the wipe; it is audited.",
  request: { params: ConnectionIdParam },
  responses: {
    204: { description: "Removed" },
    404: problem("Not the caller's connection, or already removed"),
    503: problem("Storage unavailable: nothing was removed; repeat after Retry-After"),
  },
});

export const connectionRoutes = createApiRouter()
  .openapi(list, async (c) => {
    const rows = await listConnections(c.get("services").db, { userId: c.get("caller").userId });
    return c.json({ connections: rows.map(presentConnection) }, 200);
  })
  .openapi(read, async (c) => {
    const connectionId = c.req.valid("param").id;
    const row = await findConnection(c.get("services").db, { userId: c.get("caller").userId, id: connectionId });
    if (!row) {
      // Another user's id or a removed one: worth a trace, since probing ids is how cross-user access starts.
      c.get("services").audit.record({ action: "connection.read", outcome: "failure", connectionId, detail: { reason: "not_found" } });
      throw notFound();
    }
    return c.json(presentConnection(row), 200);
  })
  .openapi(remove, async (c) => {
    const { userId } = c.get("caller");
    const connectionId = c.req.valid("param").id;
    const removed = await userVault(c.env, userId).remove(
      { userId, connectionId, client: requestClient(c), reason: "user" },
      c.get("services").audit.trace(),
    );
    switch (removed.kind) {
      case "removed":
        return c.body(null, 204);
      case "not_found":
        c.get("services").audit.record({ action: "connection.removed", outcome: "failure", connectionId, detail: { reason: "not_found" } });
        throw notFound();
      case "wipe_failed":
        throw new ProblemError("service-unavailable", "The connection could not be removed just now; repeat the request.", {
          headers: { "Retry-After": String(REMOVAL_RETRY_AFTER_SECONDS) },
        });
    }
  });
