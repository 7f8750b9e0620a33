import { createRoute, z } from "@hono/zod-openapi";
import { createPublicRouter } from "../http/routers";

const health = createRoute({
  method: "get",
  path: "/health",
  tags: ["Service"],
  summary: "Liveness check",
  responses: {
    200: { description: "The service is up", content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } } },
  },
});

export const healthRoutes = createPublicRouter().openapi(health, (c) => c.json({ status: "ok" as const }, 200));
