import { createRoute, z } from "@hono/zod-openapi";
import { requestClient } from "../http/request-client";
import { createApiRouter } from "../http/routers";
import { problem } from "../http/schemas";
import { activateIntegration, deactivateIntegration } from "../integrations/activate";
import { listIntegrations } from "../integrations/list";

const IntegrationSchema = z
  .object({
    key: z.string(),
    provider: z.string(),
    name: z.string(),
    description: z.string(),
    scopes: z.array(z.string()),
    status: z.enum(["active", "inactive", "authorization_required", "needs_reauth"]),
    missing_scopes: z.array(z.string()),
    connection_id: z.string().nullable(),
  })
  .openapi("Integration");

const IntegrationKeyParam = z.object({
  key: z
    .string()
    .regex(/^[a-z][a-z0-9-]{1,47}$/, "must be an integration key")
    .openapi({ param: { name: "key", in: "path" }, example: "google-calendar" }),
});

const ActivateRequest = z
  .strictObject({
    connection_id: z
      .string()
      .regex(/^conn_[A-Za-z0-9_-]{1,64}$/)
      .optional(),
    return_to: z.string().max(2048).optional(),
  })
  .openapi("ActivateRequest");

const list = createRoute({
  method: "get",
  path: "/v1/integrations",
  tags: ["Integrations"],
  summary: "The integration catalogue with the caller's status",
  responses: {
    200: {
      description: "Every integration",
      content: { "application/json": { schema: z.object({ integrations: z.array(IntegrationSchema) }) } },
    },
  },
});

const activate = createRoute({
  method: "post",
  path: "/v1/integrations/{key}/activate",
  tags: ["Integrations"],
  summary: "Turn an integration on",
  description:
    "Active at once when the connection already holds the scopes; otherwise returns an authorization URL for the granted plus the needed scopes (incremental consent), and the integration becomes active when that flow completes with them granted. `connection_id` is required when the user has several connections to the provider.",
  request: { params: IntegrationKeyParam, body: { content: { "application/json": { schema: ActivateRequest } } } },
  responses: {
    200: {
      description: "Active, or authorization required",
      content: {
        "application/json": {
          schema: z.union([
            z.object({ status: z.literal("active") }),
            z.object({ status: z.literal("authorization_required"), authorization_url: z.string() }),
          ]),
        },
      },
    },
    404: problem("Unknown integration, or not the caller's connection"),
    409: problem("Provider not configured"),
  },
});

const deactivate = createRoute({
  method: "post",
  path: "/v1/integrations/{key}/deactivate",
  tags: ["Integrations"],
  summary: "Turn an integration off",
  description: "Leaves the connection and the other integrations on it untouched.",
  request: { params: IntegrationKeyParam },
  responses: {
    200: { description: "Inactive", content: { "application/json": { schema: z.object({ status: z.literal("inactive") }) } } },
    404: problem("Unknown integration"),
  },
});

export const integrationRoutes = createApiRouter()
  .openapi(list, async (c) => {
    const integrations = await listIntegrations(c.get("services"), c.get("caller").userId);
    return c.json(
      {
        integrations: integrations.map((integration) => ({
          key: integration.key,
          provider: integration.provider,
          name: integration.name,
          description: integration.description,
          scopes: [...integration.scopes],
          status: integration.status,
          missing_scopes: integration.missingScopes,
          connection_id: integration.connectionId,
        })),
      },
      200,
    );
  })
  .openapi(activate, async (c) => {
    const services = c.get("services");
    const body = c.req.valid("json") ?? {};
    const result = await activateIntegration(services, {
      userId: c.get("caller").userId,
      key: c.req.valid("param").key,
      connectionId: body.connection_id,
      returnTo: body.return_to,
      client: requestClient(c),
      now: services.clock(),
    });
    if (result.status === "active") return c.json({ status: "active" as const }, 200);
    return c.json({ status: "authorization_required" as const, authorization_url: result.authorizationUrl }, 200);
  })
  .openapi(deactivate, async (c) => {
    const services = c.get("services");
    await deactivateIntegration(services, {
      userId: c.get("caller").userId,
      key: c.req.valid("param").key,
      client: requestClient(c),
      now: services.clock(),
    });
    return c.json({ status: "inactive" as const }, 200);
  });
