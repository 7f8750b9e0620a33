import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { secureHeaders } from "hono/secure-headers";
import { ConfigError } from "./config";
import { ProblemError, problemResponse } from "./errors";
import type { AppEnv } from "./http/env";
import { requireJsonBody } from "./middleware/json-body";
import { requestId } from "./middleware/request-id";
import { requestServices } from "./middleware/request-services";
import { adminRoutes } from "./routes/admin";
import { connectRoutes } from "./routes/connect";
import { connectVerificationRoutes } from "./routes/connect-verifications";
import { connectionRoutes } from "./routes/connections";
import { docsRoutes } from "./routes/docs";
import { healthRoutes } from "./routes/health";
import { historyRoutes } from "./routes/history";
import { integrationRoutes } from "./routes/integrations";
import { meRoutes } from "./routes/me";
import { oauthRoutes } from "./routes/oauth";
import { providerRoutes } from "./routes/providers";
import { tokenRoutes } from "./routes/tokens";

const MAX_BODY_BYTES = 64 * 1024;

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
  app.use(requestId);
  app.use(secureHeaders({ referrerPolicy: "no-referrer", crossOriginResourcePolicy: "same-site" }));
  app.use(requestServices);
  app.use(
    "/v1/*",
    cors({
      origin: (origin, c: Context<AppEnv>) => (c.get("services").config.corsOrigins.includes(origin) ? origin : null),
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

  // Each router decides who may call its routes (src/http/routers.ts): public, the user's browser, or the JWT API.
  app.route("/", healthRoutes);
  app.route("/", oauthRoutes);
  for (const api of [
    providerRoutes,
    connectRoutes,
    connectionRoutes,
    tokenRoutes,
    meRoutes,
    adminRoutes,
    integrationRoutes,
    historyRoutes,
    connectVerificationRoutes,
  ]) {
    app.route("/", api);
  }

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
  app.route("/", docsRoutes);

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
