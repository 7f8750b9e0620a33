import { createRoute, z } from "@hono/zod-openapi";
import { createApiRouter } from "../http/routers";

const ProviderSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    configured: z.boolean(),
    default_scopes: z.array(z.string()),
    allowed_scopes: z.array(z.string()),
  })
  .openapi("Provider");

const listProviders = createRoute({
  method: "get",
  path: "/v1/providers",
  tags: ["Connections"],
  summary: "Providers a user can connect",
  responses: {
    200: {
      description: "Every provider, configured or not",
      content: { "application/json": { schema: z.object({ providers: z.array(ProviderSchema) }) } },
    },
  },
});

export const providerRoutes = createApiRouter().openapi(listProviders, (c) => {
  const providers = c
    .get("services")
    .providers.list()
    .map((provider) => ({
      id: provider.id,
      name: provider.name,
      configured: provider.configured,
      default_scopes: [...provider.defaultScopes],
      allowed_scopes: [...provider.allowedScopes],
    }));
  return c.json({ providers }, 200);
});
