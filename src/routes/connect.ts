import { createRoute, z } from "@hono/zod-openapi";
import { beginConnect } from "../connect/begin";
import { createApiRouter } from "../http/routers";
import { problem, ProviderIdParam, ScopeSchema } from "../http/schemas";

const ConnectRequest = z
  .strictObject({
    scopes: z.array(ScopeSchema).max(50).optional(),
    return_to: z.string().max(2048).optional(),
  })
  .openapi("ConnectRequest");

const connect = createRoute({
  method: "post",
  path: "/v1/connect/{provider}",
  tags: ["Connections"],
  summary: "Begin connecting an account",
  description:
    "Returns the service's own start URL; open it in the user's browser. It binds the browser to the authorization with a short-lived cookie and redirects to the provider. The provider's default scopes are always requested.",
  request: { params: ProviderIdParam, body: { content: { "application/json": { schema: ConnectRequest } } } },
  responses: {
    201: {
      description: "Authorization URL created",
      content: { "application/json": { schema: z.object({ authorization_url: z.string().url(), expires_at: z.string() }) } },
    },
    404: problem("Unknown provider"),
    409: problem("Provider not configured"),
  },
});

export const connectRoutes = createApiRouter().openapi(connect, async (c) => {
  const services = c.get("services");
  const body = c.req.valid("json") ?? {};
  const begun = await beginConnect(services, {
    userId: c.get("caller").userId,
    providerId: c.req.valid("param").provider,
    scopes: body.scopes,
    returnTo: body.return_to,
    now: services.clock(),
  });
  return c.json({ authorization_url: begun.authorizationUrl, expires_at: new Date(begun.expiresAt).toISOString() }, 201);
});
