import { createRoute } from "@hono/zod-openapi";
import { eraseUser } from "../connections/erase-user";
import { requestClient } from "../http/request-client";
import { createApiRouter } from "../http/routers";
import { problem } from "../http/schemas";

const eraseMe = createRoute({
  method: "delete",
  path: "/v1/me",
  tags: ["Connections"],
  summary: "Disconnect everything of the caller",
  description:
    "Removes every connection (revoked at the provider unless another connection holds the same grant), integration activation and unfinished authorization of the caller; an authorization begun before the erasure can no longer store a connection. A provider failure never stops it. The consent and audit history stay as the record of what happened.",
  responses: {
    204: { description: "Everything removed" },
    503: problem("Storage unavailable part-way: repeat after Retry-After to finish the erasure"),
  },
});

export const meRoutes = createApiRouter().openapi(eraseMe, async (c) => {
  await eraseUser(c.get("services"), { userId: c.get("caller").userId, client: requestClient(c) });
  return c.body(null, 204);
});
