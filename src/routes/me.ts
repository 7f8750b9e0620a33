import { createRoute } from "@hono/zod-openapi";
import { eraseUser } from "../connections/erase-user";
import { requestClient } from "../http/request-client";
import { createApiRouter } from "../http/routers";

const eraseMe = createRoute({
  method: "delete",
  path: "/v1/me",
  tags: ["Connections"],
  summary: "Disconnect everything of the caller",
  description:
    "Revokes and removes every connection and integration activation of the caller. The consent and audit history stay as the record of what happened.",
  responses: { 204: { description: "Everything removed" } },
});

export const meRoutes = createApiRouter().openapi(eraseMe, async (c) => {
  await eraseUser(c.get("services"), { userId: c.get("caller").userId, client: requestClient(c) });
  return c.body(null, 204);
});
