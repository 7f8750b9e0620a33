import { createRoute } from "@hono/zod-openapi";
import { userVault } from "../refresh/user-vault";
import { deleteAuthorizationStatesOfUser } from "../storage/authorization-state";
import { listConnections } from "../storage/connections";
import { database } from "../storage/database";
import { deleteActivationsOfUser } from "../storage/integration-activations";
import { clientOf } from "./connections";
import { createRouter } from "./router";
import { AUTHENTICATED_PROBLEMS, BEARER } from "./schemas";

const eraseMe = createRoute({
  method: "delete",
  path: "/v1/me",
  tags: ["Connections"],
  summary: "Disconnect everything of the caller",
  description:
    "Revokes and removes every connection and integration activation of the caller. The consent and audit history stay as the record of what happened.",
  security: BEARER,
  responses: { 204: { description: "Everything removed" }, ...AUTHENTICATED_PROBLEMS },
});

export const meRoutes = createRouter().openapi(eraseMe, async (c) => {
  const { userId } = c.get("caller");
  const vault = userVault(c.env, userId);
  const client = clientOf(c);
  const db = database(c.env.DB);
  const connections = await listConnections(db, { userId });
  // One at a time: each removal may call the provider, and a user has few connections.
  for (const connection of connections) await vault.remove({ userId, connectionId: connection.id, ...client });
  // Activations still waiting for their first connection; the others went with their connections.
  const pending = await deleteActivationsOfUser(db, { userId });
  // Unfinished flows would otherwise still complete and store a new connection after the erasure.
  const flows = await deleteAuthorizationStatesOfUser(c.env.AUTH_STATE, userId);
  c.get("audit").defer({
    action: "user.erased",
    outcome: "success",
    detail: { connections: connections.length, pending_integrations: pending.length, pending_flows: flows },
  });
  return c.body(null, 204);
});
