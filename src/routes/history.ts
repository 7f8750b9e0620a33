import { createRoute, z } from "@hono/zod-openapi";
import { isoTime } from "../connections/present";
import { parseScopes } from "../scopes";
import { ProblemError } from "../errors";
import { auditPage, consentPage } from "../history";
import { pageRequest, PageQuery } from "../http/pagination";
import { createApiRouter } from "../http/routers";
import { problem } from "../http/schemas";

const ConsentSchema = z
  .object({
    id: z.string(),
    kind: z.enum(["grant", "expansion", "reduction", "withdrawal", "integration_activated", "integration_deactivated"]),
    provider: z.string(),
    connection_id: z.string().nullable(),
    integration: z.string().nullable(),
    scopes: z.array(z.string()),
    missing_scopes: z.array(z.string()),
    ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi("Consent");

const AuditEventSchema = z
  .object({
    id: z.string(),
    at: z.string(),
    user_id: z.string().nullable(),
    actor: z.string(),
    action: z.string(),
    provider: z.string().nullable(),
    connection_id: z.string().nullable(),
    outcome: z.enum(["success", "failure"]),
    request_id: z.string().nullable(),
    ip: z.string().nullable(),
    detail: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  })
  .openapi("AuditEvent");

const consents = createRoute({
  method: "get",
  path: "/v1/consents",
  tags: ["History"],
  summary: "The caller's consent history, newest first",
  request: { query: PageQuery },
  responses: {
    200: {
      description: "A page",
      content: { "application/json": { schema: z.object({ consents: z.array(ConsentSchema), next_cursor: z.string().nullable() }) } },
    },
  },
});

const isoDate = z.iso.datetime({ offset: true }).transform((value) => Date.parse(value));

const audit = createRoute({
  method: "get",
  path: "/v1/audit",
  tags: ["History"],
  summary: "Audit events, newest first",
  description: "The caller's own events. A caller whose JWT scope has `admin` may add `user_id` (absent: every user's events).",
  request: {
    query: PageQuery.extend({
      action: z
        .string()
        .regex(/^[a-z_.]{1,64}$/)
        .optional(),
      since: isoDate.optional().openapi({ type: "string", format: "date-time" }),
      until: isoDate.optional().openapi({ type: "string", format: "date-time" }),
      user_id: z.string().min(1).max(255).optional(),
    }),
  },
  responses: {
    200: {
      description: "A page",
      content: { "application/json": { schema: z.object({ events: z.array(AuditEventSchema), next_cursor: z.string().nullable() }) } },
    },
    403: problem("user_id without the admin scope"),
  },
});

export const historyRoutes = createApiRouter()
  .openapi(consents, async (c) => {
    const page = await consentPage(c.get("services"), c.get("caller").userId, pageRequest(c.req.valid("query")));
    return c.json(
      {
        consents: page.items.map((row) => ({
          id: row.id,
          kind: row.kind,
          provider: row.provider,
          connection_id: row.connectionId,
          integration: row.integration,
          scopes: parseScopes(row.scopes),
          missing_scopes: parseScopes(row.missingScopes),
          ip: row.ip,
          user_agent: row.userAgent,
          created_at: isoTime(row.createdAt)!,
        })),
        next_cursor: page.nextCursor,
      },
      200,
    );
  })
  .openapi(audit, async (c) => {
    const query = c.req.valid("query");
    const caller = c.get("caller");
    const isAdmin = caller.powers.has("admin");
    if (query.user_id !== undefined && !isAdmin) {
      throw new ProblemError("forbidden", "Only callers with the admin scope may read other users' events.", {
        extensions: { required_scope: "admin" },
      });
    }
    const filter = {
      ...(isAdmin ? (query.user_id === undefined ? {} : { userId: query.user_id }) : { userId: caller.userId }),
      ...(query.action === undefined ? {} : { action: query.action }),
      ...(query.since === undefined ? {} : { since: query.since }),
      ...(query.until === undefined ? {} : { until: query.until }),
    };
    const page = await auditPage(c.get("services"), filter, pageRequest(query));
    return c.json(
      {
        events: page.items.map((row) => ({
          id: row.id,
          at: isoTime(row.at)!,
          user_id: row.userId,
          actor: row.actor,
          action: row.action,
          provider: row.provider,
          connection_id: row.connectionId,
          outcome: row.outcome,
          request_id: row.requestId,
          ip: row.ip,
          detail: JSON.parse(row.detail) as Record<string, string | number | boolean | null>,
        })),
        next_cursor: page.nextCursor,
      },
      200,
    );
  });
