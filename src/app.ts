import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import { asProblem, ProblemError, problemResponse } from "./errors";
import type { AppEnv } from "./http/env";
import { requireJsonBody } from "./middleware/json-body";
import { requestId } from "./middleware/request-id";
import { requestServices } from "./middleware/request-services";
import { adminRoutes } from "./routes/admin";
import { connectRoutes } from "./routes/connect";
import { connectPageAssetRoutes, connectPageRoutes } from "./routes/connect-page";
import { connectSessionRoutes } from "./routes/connect-sessions";
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
import { webhookRoutes } from "./routes/webhooks";

const MAX_BODY_BYTES = 64 * 1024;

export function createApp(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.use(requestId);
  // A route that sets one of these headers itself keeps its value: the hosted pages, the start URL and the callback
  // answer `Cross-Origin-Opener-Policy: unsafe-none`, so that a popup keeps its opener.
  app.use(secureHeaders({ referrerPolicy: "no-referrer", crossOriginResourcePolicy: "same-site", overwrite: false }));
  app.use(requestServices);
  app.use(
    "/v1/*",
    cors({
      origin: (origin, c: Context<AppEnv>) => (c.get("services").config.corsOrigins.includes(origin) ? origin : null),
      allowMethods: ["GET", "POST", "PATCH", "DELETE"],
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
  app.route("/", connectPageRoutes);
  app.route("/", connectPageAssetRoutes);
  for (const api of [
    providerRoutes,
    connectRoutes,
    connectionRoutes,
    tokenRoutes,
    meRoutes,
    adminRoutes,
    integrationRoutes,
    historyRoutes,
    connectSessionRoutes,
    connectVerificationRoutes,
    webhookRoutes,
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
    const response = problemResponse(asProblem(error), c.get("requestId"));
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
