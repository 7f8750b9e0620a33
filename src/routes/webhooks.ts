import { createRoute, z } from "@hono/zod-openapi";
import { isoTime } from "../connections/present";
import { ProblemError } from "../errors";
import { WEBHOOK_EVENT_TYPES } from "../events/event-types";
import { pageRequest, PageQuery } from "../http/pagination";
import { createApiRouter } from "../http/routers";
import { problem } from "../http/schemas";
import { requirePower } from "../middleware/caller-auth";
import { deliveryLogPage } from "../webhooks/delivery-log";
import {
  changeSubscription,
  listSubscriptions,
  requestTestEvent,
  rotateSigningSecret,
  subscribe,
  subscribedEvents,
  unsubscribe,
  type WebhookEndpointRow,
} from "../webhooks/endpoints";

const notFound = () => new ProblemError("not-found", "There is no such webhook endpoint.");

const EventTypes = z
  .array(z.enum(WEBHOOK_EVENT_TYPES))
  .min(1)
  .max(50)
  .openapi({ description: "Event types to receive; absent: every type, including types added later" });

/** The endpoint's URL; what it may be is checked by the service (src/webhooks/endpoint-url.ts). */
const EndpointUrl = z.string().min(1).max(2048).openapi({ example: "https://app.example.com/hooks/connections" });

/** Plain text for the operator's own notes: no control characters. */
const Description = z
  .string()
  .max(500)
  .regex(/^[^\u0000-\u001f\u007f-\u009f]*$/, "must be plain text on one line");

const WebhookIdParam = z.object({
  id: z
    .string()
    .regex(/^wh_[A-Za-z0-9_-]{1,64}$/, "must be a webhook endpoint id")
    .openapi({ param: { name: "id", in: "path" }, example: "wh_3q2-7wEXAMPLE" }),
});

const SubscriptionSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.enum(WEBHOOK_EVENT_TYPES)).nullable().openapi({ description: "null: every type" }),
    enabled: z.boolean(),
    disabled_reason: z
      .string()
      .nullable()
      .openapi({ description: "gone: the service disabled the endpoint after it answered 410; null otherwise" }),
    description: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("WebhookSubscription");

const CreatedSubscriptionSchema = SubscriptionSchema.extend({
  secret: z.string().openapi({ description: "The whsec_… signing secret: shown here and on rotation only" }),
}).openapi("CreatedWebhookSubscription");

const DeliverySchema = z
  .object({
    event_id: z.string().openapi({ description: "The webhook-id header: the same on every attempt of an event" }),
    type: z.string(),
    attempt: z.number().int(),
    status: z.enum(["delivered", "failed", "abandoned", "disabled"]),
    response_status: z.number().int().nullable(),
    error: z.string().nullable().openapi({ description: "timeout, network, http_status or redirect; never the receiver's text" }),
    at: z.string(),
    next_attempt_at: z.string().nullable(),
  })
  .openapi("WebhookDelivery");

/** What every route here declares: its tag and the admin check, which answers 403 without the admin scope. */
const ADMIN_ROUTE = { tags: ["Webhooks"], middleware: [requirePower("admin")] };
const FORBIDDEN = problem("The caller lacks the admin scope");
/** The answers of a route about one endpoint (`{id}`) besides its success. */
const ENDPOINT_PROBLEMS = { 403: FORBIDDEN, 404: problem("No such endpoint") };

const create = createRoute({
  method: "post",
  path: "/v1/admin/webhooks",
  ...ADMIN_ROUTE,
  summary: "Subscribe an endpoint to events",
  description:
    "The URL must be https (http only to a loopback host while PUBLIC_BASE_URL is loopback); user info and fragments are refused, and so are loopback, private and link-local hosts on a deployed service. The answer holds the signing secret, which is not shown again.",
  request: {
    body: {
      content: {
        "application/json": {
          schema: z.strictObject({ url: EndpointUrl, events: EventTypes.optional(), description: Description.optional() }),
        },
      },
      required: true,
    },
  },
  responses: {
    201: { description: "Subscribed", content: { "application/json": { schema: CreatedSubscriptionSchema } } },
    403: FORBIDDEN,
  },
});

const list = createRoute({
  method: "get",
  path: "/v1/admin/webhooks",
  ...ADMIN_ROUTE,
  summary: "Every webhook subscription, oldest first (without secrets)",
  responses: {
    200: {
      description: "The subscriptions",
      content: { "application/json": { schema: z.object({ webhooks: z.array(SubscriptionSchema) }) } },
    },
    403: FORBIDDEN,
  },
});

const change = createRoute({
  method: "patch",
  path: "/v1/admin/webhooks/{id}",
  ...ADMIN_ROUTE,
  summary: "Change a subscription; enabling it again clears a 410's disabled_reason",
  request: {
    params: WebhookIdParam,
    body: {
      content: {
        "application/json": {
          schema: z.strictObject({
            url: EndpointUrl.optional(),
            events: EventTypes.nullable().optional().openapi({ description: "null: every type" }),
            enabled: z.boolean().optional(),
            description: Description.optional(),
          }),
        },
      },
      required: true,
    },
  },
  responses: {
    200: { description: "The subscription", content: { "application/json": { schema: SubscriptionSchema } } },
    ...ENDPOINT_PROBLEMS,
  },
});

const remove = createRoute({
  method: "delete",
  path: "/v1/admin/webhooks/{id}",
  ...ADMIN_ROUTE,
  summary: "Unsubscribe an endpoint",
  request: { params: WebhookIdParam },
  responses: { 204: { description: "Removed" }, ...ENDPOINT_PROBLEMS },
});

const rotate = createRoute({
  method: "post",
  path: "/v1/admin/webhooks/{id}/rotate-secret",
  ...ADMIN_ROUTE,
  summary: "A new signing secret; the previous one goes on signing beside it for 24 hours",
  request: { params: WebhookIdParam },
  responses: {
    200: { description: "The new secret", content: { "application/json": { schema: z.object({ secret: z.string() }) } } },
    ...ENDPOINT_PROBLEMS,
  },
});

const test = createRoute({
  method: "post",
  path: "/v1/admin/webhooks/{id}/test",
  ...ADMIN_ROUTE,
  summary: "Send a webhook.test event to the endpoint",
  request: { params: WebhookIdParam },
  responses: { 202: { description: "Queued for delivery" }, ...ENDPOINT_PROBLEMS },
});

const deliveries = createRoute({
  method: "get",
  path: "/v1/admin/webhooks/{id}/deliveries",
  ...ADMIN_ROUTE,
  summary: "The endpoint's delivery attempts, newest first",
  request: { params: WebhookIdParam, query: PageQuery },
  responses: {
    200: {
      description: "A page",
      content: {
        "application/json": { schema: z.object({ deliveries: z.array(DeliverySchema), next_cursor: z.string().nullable() }) },
      },
    },
    ...ENDPOINT_PROBLEMS,
  },
});

function presentSubscription(endpoint: WebhookEndpointRow): z.infer<typeof SubscriptionSchema> {
  return {
    id: endpoint.id,
    url: endpoint.url,
    events: subscribedEvents(endpoint),
    enabled: endpoint.enabled,
    disabled_reason: endpoint.disabledReason,
    description: endpoint.description,
    created_at: isoTime(endpoint.createdAt)!,
    updated_at: isoTime(endpoint.updatedAt)!,
  };
}

export const webhookRoutes = createApiRouter()
  .openapi(create, async (c) => {
    const services = c.get("services");
    const body = c.req.valid("json");
    const created = await subscribe(
      services,
      { url: body.url, events: body.events ?? null, description: body.description ?? "" },
      services.clock(),
    );
    return c.json({ ...presentSubscription(created.endpoint), secret: created.secret }, 201);
  })
  .openapi(list, async (c) => {
    const endpoints = await listSubscriptions(c.get("services"));
    return c.json({ webhooks: endpoints.map(presentSubscription) }, 200);
  })
  .openapi(change, async (c) => {
    const services = c.get("services");
    // An absent member of the body stays as it is (`SubscriptionChanges`).
    const endpoint = await changeSubscription(services, c.req.valid("param").id, c.req.valid("json"), services.clock());
    if (!endpoint) throw notFound();
    return c.json(presentSubscription(endpoint), 200);
  })
  .openapi(remove, async (c) => {
    if (!(await unsubscribe(c.get("services"), c.req.valid("param").id))) throw notFound();
    return c.body(null, 204);
  })
  .openapi(rotate, async (c) => {
    const services = c.get("services");
    const secret = await rotateSigningSecret(services, c.req.valid("param").id, services.clock());
    if (secret === null) throw notFound();
    return c.json({ secret }, 200);
  })
  .openapi(test, async (c) => {
    if (!(await requestTestEvent(c.get("services"), c.req.valid("param").id))) throw notFound();
    return c.body(null, 202);
  })
  .openapi(deliveries, async (c) => {
    const page = await deliveryLogPage(c.get("services"), c.req.valid("param").id, pageRequest(c.req.valid("query")));
    if (page === null) throw notFound();
    return c.json(
      {
        deliveries: page.items.map((row) => ({
          event_id: row.eventId,
          type: row.eventType,
          attempt: row.attempt,
          status: row.status,
          response_status: row.responseStatus,
          error: row.error,
          at: isoTime(row.at)!,
          next_attempt_at: isoTime(row.nextAttemptAt),
        })),
        next_cursor: page.nextCursor,
      },
      200,
    );
  });
