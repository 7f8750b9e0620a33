import { createRoute, z } from "@hono/zod-openapi";
import { createConnectSession } from "../connect-sessions/create";
import { createApiRouter } from "../http/routers";
import { problem } from "../http/schemas";
import { requirePower } from "../middleware/caller-auth";

/** Controls and the bidirectional overrides that could make a name read as another (Unicode TR #9) are refused. */
const DISPLAYABLE = /^[^\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]*$/;

const ConnectSessionRequest = z
  .strictObject({
    integrations: z
      .array(z.string().regex(/^[a-z][a-z0-9-]{1,47}$/, "must be an integration key"))
      .min(1)
      .max(50)
      .optional(),
    providers: z
      .array(z.string().regex(/^[a-z][a-z0-9-]{1,31}$/, "must be a provider id"))
      .min(1)
      .max(50)
      .optional(),
    return_to: z.string().max(2048).optional(),
    opener_origin: z.string().max(2048).optional(),
    end_user: z
      .strictObject({
        display_name: z.string().trim().min(1).max(80).regex(DISPLAYABLE, "must be plain text").optional(),
        email: z.email().max(254).optional(),
      })
      .optional(),
    locale: z
      .string()
      .max(35)
      .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/, "must be a BCP 47 language tag")
      .optional(),
  })
  .openapi("ConnectSessionRequest");

const create = createRoute({
  method: "post",
  path: "/v1/connect-sessions",
  tags: ["Connect page"],
  summary: "A connect link for the caller's user",
  description:
    "Needs the `connections:token` scope (the application's backend: a browser must not choose what the page says). `integrations` and/or `providers` limit what the page offers (absent: every configured provider); `return_to` is where Done leads; `opener_origin` is the only origin a popup reports to; `end_user.display_name` is shown on the page; `locale` chooses its language. The link lives 30 minutes.",
  middleware: [requirePower("connections:token")] as const,
  request: { body: { content: { "application/json": { schema: ConnectSessionRequest } } } },
  responses: {
    201: {
      description: "The connect link",
      content: { "application/json": { schema: z.object({ connect_url: z.string().url(), expires_at: z.string() }) } },
    },
    403: problem("Missing connections:token"),
    409: problem("An offered provider is not configured"),
  },
});

export const connectSessionRoutes = createApiRouter().openapi(create, async (c) => {
  const services = c.get("services");
  const body = c.req.valid("json") ?? {};
  const created = await createConnectSession(services, {
    userId: c.get("caller").userId,
    integrations: body.integrations,
    providers: body.providers,
    returnTo: body.return_to,
    openerOrigin: body.opener_origin,
    displayName: body.end_user?.display_name,
    email: body.end_user?.email,
    locale: body.locale,
    now: services.clock(),
  });
  return c.json({ connect_url: created.connectUrl, expires_at: new Date(created.expiresAt).toISOString() }, 201);
});
