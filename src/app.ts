import { OpenAPIHono } from "@hono/zod-openapi";
import { asProblem, ProblemError, problemResponse } from "./errors";
import { APP_MIDDLEWARE } from "./http/app-middleware";
import type { AppEnv } from "./http/env";
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

export function createApp(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  for (const { path, handler } of APP_MIDDLEWARE) app.use(path, handler);

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
