import { OpenAPIHono } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "./app-env";
import { RequestAudit } from "./audit/request-audit";
import { ConfigError, getConfig } from "./config";
import { ProblemError, problemResponse } from "./errors";
import { callerAuth } from "./middleware/caller-auth";
import { rateLimit } from "./middleware/rate-limit";
import { authorizationRoutes } from "./routes/authorization";
import { connectionRoutes } from "./routes/connections";
import { healthRoutes } from "./routes/health";
import { historyRoutes } from "./routes/history";
import { integrationRoutes } from "./routes/integrations";
import { adminRoutes } from "./routes/admin";
import { meRoutes } from "./routes/me";
import { providerRoutes } from "./routes/providers";
import { tokenRoutes } from "./routes/tokens";
import { database } from "./storage/database";

const MAX_BODY_BYTES = 64 * 1024;
/** Browser-facing OAuth endpoints authenticate by state and cookie, not by bearer token. */
const BROWSER_PATHS = "/v1/oauth/";

/** Parses configuration and opens the request's audit batch, written once the response is ready. */
const requestContext = createMiddleware<AppEnv>(async function requestContext(c, next) {
  const config = getConfig(c.env);
  c.set("config", config);
  const audit = new RequestAudit(database(c.env.DB), {
    requestId: c.get("requestId"),
    ip: c.req.header("CF-Connecting-IP") ?? null,
    actor: "anonymous",
    userId: null,
  });
  c.set("audit", audit);
  await next();
  await audit.flush().catch((error: unknown) => {
    console.error(JSON.stringify({ message: "audit write failed", error: errorName(error) }));
  });
});

/** A body that is not JSON would otherwise be silently ignored by optional-body routes. */
const requireJsonBody = createMiddleware<AppEnv>(async function requireJsonBody(c, next) {
  const hasBody = c.req.header("Content-Length") !== undefined && c.req.header("Content-Length") !== "0";
  const type = c.req.header("Content-Type")?.split(";")[0]?.trim().toLowerCase();
  if ((hasBody || c.req.header("Transfer-Encoding")) && type !== "application/json") {
    throw new ProblemError("unsupported-media-type");
  }
  await next();
});

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

/**
 * The one error exit: known problems as they are, anything else a 500 that reveals nothing. Hono hands `onError`
 * only `Error`s (anything else thrown is rethrown by its dispatcher), hence the parameter's type.
 */
function toProblem(error: Error): ProblemError {
  if (error instanceof ProblemError) return error;
  if (error instanceof HTTPException && error.status === 400) return new ProblemError("bad-request", "The body is not valid JSON.");
  if (error instanceof HTTPException && error.status === 413) return new ProblemError("payload-too-large");
  // @hono/zod-openapi's own media-type gate: a non-JSON Content-Type on a JSON route, even without a body.
  if (error instanceof HTTPException && error.status === 415) return new ProblemError("unsupported-media-type");
  if (error instanceof ConfigError) {
    // Names the variable, never its value: safe for the operator's log, not for the caller.
    console.error(JSON.stringify({ message: error.message }));
    return new ProblemError("internal", "The service is misconfigured.");
  }
  // Messages of unknown errors can carry query parameters; log where it failed, not what it held.
  console.error(JSON.stringify({ message: "unhandled error", error: error.name, stack: error.stack?.split("\n").slice(1, 6).join(" | ") }));
  return new ProblemError("internal", "Something went wrong on our side. Quote the request_id when reporting it.");
}

export function createApp(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.use(requestId());
  app.use(secureHeaders({ referrerPolicy: "no-referrer", crossOriginResourcePolicy: "same-site" }));
  app.use(requestContext);
  app.use(
    "/v1/*",
    cors({
      origin: (origin, c: Context<AppEnv>) => (c.get("config").corsOrigins.includes(origin) ? origin : null),
      allowMethods: ["GET", "POST", "DELETE"],
      allowHeaders: ["Authorization", "Content-Type"],
      exposeHeaders: ["Retry-After", "X-Request-Id"],
      maxAge: 600,
    }),
  );
  app.use("/v1/*", async function noStore(c, next) {
    await next();
    c.header("Cache-Control", "no-store");
  });
  app.use(
    "/v1/*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new ProblemError("payload-too-large");
      },
    }),
  );
  app.use("/v1/*", requireJsonBody);
  const authenticate = callerAuth();
  const limitPerUser = rateLimit((c) => ({ limiter: c.env.USER_RATE_LIMITER, key: `user:${c.get("caller").userId}` }));
  app.use("/v1/*", async function authenticateApi(c, next) {
    if (c.req.path.startsWith(BROWSER_PATHS) || c.req.method === "OPTIONS") return next();
    await authenticate(c, async () => {
      await limitPerUser(c, next);
    });
  });
  // The browser endpoints carry no identity but the address; Cloudflare always sets it (local runs may not).
  app.use(
    `${BROWSER_PATHS}*`,
    rateLimit((c) => {
      const ip = c.req.header("CF-Connecting-IP");
      return ip ? { limiter: c.env.IP_RATE_LIMITER, key: `ip:${ip}` } : null;
    }),
  );

  app.route("/", healthRoutes);
  app.route("/", providerRoutes);
  app.route("/", authorizationRoutes);
  app.route("/", connectionRoutes);
  app.route("/", tokenRoutes);
  app.route("/", meRoutes);
  app.route("/", adminRoutes);
  app.route("/", integrationRoutes);
  app.route("/", historyRoutes);

  app.openAPIRegistry.registerComponent("securitySchemes", "Bearer", { type: "http", scheme: "bearer", bearerFormat: "JWT" });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "OAuth connection manager",
      version: "1.0.0",
      description:
        "Connects users' third-party accounts, keeps their tokens encrypted and fresh, and vends access tokens to the application's backends. Errors are RFC 9457 application/problem+json.",
    },
  });
  app.get("/docs", Scalar({ url: "/openapi.json", pageTitle: "OAuth connection manager API" }));

  const routes = app.openAPIRegistry.definitions.flatMap((definition) =>
    definition.type === "route" ? [{ method: definition.route.method.toUpperCase(), pattern: pathPattern(definition.route.path) }] : [],
  );
  app.notFound((c) => {
    const allowed = routes.filter((route) => route.pattern.test(c.req.path)).map((route) => route.method);
    if (allowed.length > 0) {
      return problemResponse(
        new ProblemError("method-not-allowed", `Use ${allowed.join(", ")}.`, { headers: { Allow: allowed.join(", ") } }),
        c.get("requestId"),
      );
    }
    return problemResponse(new ProblemError("not-found", "There is nothing at this path."), c.get("requestId"));
  });
  app.onError((error, c) => {
    const response = problemResponse(toProblem(error), c.get("requestId"));
    // Keep what the handler already set: security headers, a flow cookie's deletion.
    for (const [name, value] of c.res.headers) {
      if (name === "set-cookie") response.headers.append(name, value);
      else if (!response.headers.has(name)) response.headers.set(name, value);
    }
    return response;
  });
  return app;
}

function pathPattern(path: string): RegExp {
  const escaped = path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+");
  return new RegExp(`^${escaped}$`);
}
