/**
 * The breakdown Worker of `npm run bench` (scenario "breakdown"): the vend hot path built up one piece at a time from
 * the service's own modules, from the reference's bare D1 read to the service's own app. `POST
 * /{step}/v1/connections/{id}/token` runs step `step`, which is the previous step plus one piece, so the CPU a step
 * adds per request is what that piece costs. `GET /__steps` lists the steps and what each adds, for the report.
 *
 * Up to "validation" the reference's read (bench/reference/) answers; from "vend" on, the service's own vend
 * (src/tokens/vend.ts). The bench serves this Worker with the service's own wrangler.jsonc (`--name bench-breakdown`),
 * so it has the same bindings and the assets in front of it, and its other handlers (cron, queues) are the service's:
 * the first step differs from the reference Worker only by that configuration.
 *
 * `POST /floor/v1/connections/{id}/token` is no step but a second yardstick for the hot path: the reference's read
 * with the two binding calls every vend makes besides it — the per-user limit and the audit event's send to the
 * queue — behind the same configuration. What the service costs beyond it is the service's own code.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { Hono, type MiddlewareHandler } from "hono";
import { AuditSink } from "../../src/audit/audit-sink";
import service from "../../src/index";
import { APP_MIDDLEWARE } from "../../src/http/app-middleware";
import type { ApiEnv } from "../../src/http/env";
import { API_MIDDLEWARE, createApiRouter } from "../../src/http/routers";
import { requirePower } from "../../src/middleware/caller-auth";
import { vendRoute } from "../../src/routes/tokens";
import { database } from "../../src/storage/database";
import { vendAuditEvent, vendToken } from "../../src/tokens/vend";
import { DEFAULT_MIN_VALIDITY_SECONDS } from "../../src/vault/refresh-policy";
import { readConnection } from "../reference";

type Handle = (request: Request, env: Env, ctx: ExecutionContext) => Response | Promise<Response>;

interface Step {
  name: string;
  adds: string;
  handle: Handle;
}

const VEND_PATH = "/v1/connections/:id/token";

/** A Hono app with `middleware` in front of the reference's read (a route of the app's own router, as in the service). */
function honoApp(middleware: readonly { path: string; handler: MiddlewareHandler }[]): Handle {
  const app = new Hono<{ Bindings: Env }>();
  for (const { path, handler } of middleware) app.use(path, handler);
  app.post(VEND_PATH, (c) => readConnection(c.env.DB, c.req.param("id")));
  return app.fetch;
}

/** The service's app middleware in front of `router` (an API router with the vend route), as src/app.ts mounts it. */
function apiApp(router: OpenAPIHono<ApiEnv>): Handle {
  const app = new OpenAPIHono<{ Bindings: Env }>();
  for (const { path, handler } of APP_MIDDLEWARE) app.use(path, handler);
  app.route("/", router);
  return app.fetch;
}

const steps: Step[] = [
  {
    name: "d1",
    adds: "the reference's D1 point read, behind the service's wrangler config (assets first)",
    handle: (request, env) => readConnection(env.DB, /\/v1\/connections\/([^/]+)\/token$/.exec(new URL(request.url).pathname)![1]!),
  },
  { name: "hono", adds: "Hono: the read as a route of a Hono app", handle: honoApp([]) },
];
const chain: { path: string; handler: MiddlewareHandler }[] = [];
for (const middleware of APP_MIDDLEWARE) {
  chain.push(middleware);
  steps.push({ name: middleware.name, adds: `app middleware \`${middleware.name}\` (${middleware.path})`, handle: honoApp(chain) });
}
for (const middleware of API_MIDDLEWARE) {
  chain.push({ path: VEND_PATH, handler: middleware.handler });
  steps.push({ name: middleware.name, adds: `API router middleware \`${middleware.name}\``, handle: honoApp(chain) });
}
chain.push({ path: VEND_PATH, handler: requirePower("connections:token") as MiddlewareHandler });
steps.push({ name: "requirePower", adds: "route middleware `requirePower`", handle: honoApp(chain) });
steps.push({
  name: "validation",
  adds: "@hono/zod-openapi: the vend route on an API router, params and body validated (the read still answers)",
  // The route's typed responses describe the vend's answer; the read answers with its own JSON.
  handle: apiApp(createApiRouter().openapi(vendRoute, async (c) => (await readConnection(c.env.DB, c.req.valid("param").id)) as never)),
});
/**
 * The service's vend answering on an API router; with `audited`, its `token.vended` event is also sent to the audit
 * queue after the response, as the vend route does (the queue's consumer writes it).
 */
function vendApp(audited: boolean): Handle {
  return apiApp(
    createApiRouter().openapi(vendRoute, async (c) => {
      const services = c.get("services");
      const connectionId = c.req.valid("param").id;
      const outcome = await vendToken(
        services,
        {
          userId: c.get("caller").userId,
          connectionId,
          minValiditySeconds: DEFAULT_MIN_VALIDITY_SECONDS,
          forceRefresh: false,
          now: services.clock(),
        },
        () => Promise.reject(new Error("the breakdown vends fresh tokens only")),
      );
      if (audited) services.audit.recordAfterResponse(vendAuditEvent(connectionId, outcome));
      if (outcome.kind !== "token") throw new Error(`the breakdown's vend answered ${outcome.kind}`);
      return c.json({ access_token: outcome.accessToken, token_type: "Bearer" as const, expires_at: null, scopes: outcome.scopes }, 200);
    }),
  );
}

steps.push({
  name: "vend",
  adds: "the service's vend (src/tokens/vend.ts: Drizzle read, scopes, freshness, AES-GCM decrypt) answers instead of the read",
  handle: vendApp(false),
});
steps.push({
  name: "audit",
  adds: "the vend's `token.vended` event sent to the `audit-events` queue after the response (a binding call; the queue's consumer writes it)",
  handle: vendApp(true),
});
steps.push({
  name: "service",
  adds: "the service's own app (src/app.ts): its vend route among every other route, the error exit",
  handle: service.fetch as Handle,
});

const byName = new Map(steps.map((step) => [step.name, step]));

/** Who the floor's audit events name: no caller is authenticated there. */
const FLOOR_ORIGIN = { requestId: null, ip: null, userId: null, actor: "backend" } as const;

/** The floor (see above): the rate limiter's call, the read, and the `token.vended` event sent after the response. */
const floor: Handle = async (request, env, ctx) => {
  const id = /\/v1\/connections\/([^/]+)\/token$/.exec(new URL(request.url).pathname)![1]!;
  // The per-user limit's call as the API router makes it, keyed here by the connection (one per user in the bench).
  if (!(await env.USER_RATE_LIMITER.limit({ key: `user:${id}` })).success) return Response.json({ error: "rate_limited" }, { status: 429 });
  const response = await readConnection(env.DB, id);
  const audit = new AuditSink(database(env.DB), env.AUDIT_QUEUE, FLOOR_ORIGIN, Date.now);
  audit.recordAfterResponse({ action: "token.vended", outcome: "success", connectionId: id });
  ctx.waitUntil(audit.flushAfterResponse());
  return response;
};

// The service's Durable Object classes, which its config binds.
export * from "../../src/index";

export default {
  ...service,
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/__steps") return Response.json(steps.map(({ name, adds }) => ({ name, adds })));
    const match = /^\/([A-Za-z0-9]+)(\/.*)$/.exec(url.pathname);
    const handle = match && (match[1] === "floor" ? floor : byName.get(match[1]!)?.handle);
    if (!handle) return Response.json({ error: "no such step" }, { status: 404 });
    // Every step, the bare read included, gets the request re-addressed the same way.
    return handle(new Request(new URL(match[2]!, url), request), env, ctx);
  },
} satisfies ExportedHandler<Env>;
