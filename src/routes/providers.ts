import { createRoute, z } from "@hono/zod-openapi";
import { getProviderRegistry } from "../providers/registry";
import { createRouter } from "./router";
import { AUTHENTICATED_PROBLEMS, BEARER } from "./schemas";

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
  security: BEARER,
  responses: {
    200: {
      description: "Every provider, configured or not",
      content: { "application/json": { schema: z.object({ providers: z.array(ProviderSchema) }) } },
    },
    ...AUTHENTICATED_PROBLEMS,
  },
});

export const providerRoutes = createRouter().openapi(listProviders, (c) => {
  const providers = getProviderRegistry(c.get("config"))
    .list()
    .map((provider) => ({
      id: provider.id,
      name: provider.name,
      configured: provider.configured,
      default_scopes: [...provider.defaultScopes],
      allowed_scopes: [...provider.allowedScopes],
    }));
  return c.json({ providers }, 200);
});
