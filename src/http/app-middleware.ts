/**
 * The middleware every request runs, in order, before its router's own (src/http/routers.ts). A list with names, so
 * the bench's breakdown (bench/breakdown/) can add them one at a time and measure what each one costs.
 */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import { ProblemError } from "../errors";
import { requireJsonBody } from "../middleware/json-body";
import { requestId } from "../middleware/request-id";
import { requestServices } from "../middleware/request-services";
import type { AppEnv } from "./env";

const MAX_BODY_BYTES = 64 * 1024;

export interface AppMiddleware {
  name: string;
  /** Hono's path pattern: "*" for every request, "/v1/*" for the JSON API. */
  path: string;
  handler: MiddlewareHandler;
}

export const APP_MIDDLEWARE: readonly AppMiddleware[] = [
  { name: "requestId", path: "*", handler: requestId },
  {
    name: "secureHeaders",
    path: "*",
    // A route that sets one of these headers itself keeps its value: the hosted pages, the start URL and the callback
    // answer `Cross-Origin-Opener-Policy: unsafe-none`, so that a popup keeps its opener.
    handler: secureHeaders({ referrerPolicy: "no-referrer", crossOriginResourcePolicy: "same-site", overwrite: false }),
  },
  { name: "requestServices", path: "*", handler: requestServices },
  {
    name: "cors",
    path: "/v1/*",
    handler: cors({
      origin: (origin, c: Context<AppEnv>) => (c.get("services").config.corsOrigins.includes(origin) ? origin : null),
      allowMethods: ["GET", "POST", "PATCH", "DELETE"],
      allowHeaders: ["Authorization", "Content-Type"],
      exposeHeaders: ["Retry-After", "X-Request-Id"],
      maxAge: 600,
    }),
  },
  {
    name: "noStore",
    path: "/v1/*",
    handler: async function noStore(c, next) {
      await next();
      c.header("Cache-Control", "no-store");
    },
  },
  {
    name: "bodyLimit",
    path: "/v1/*",
    handler: bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new ProblemError("payload-too-large");
      },
    }),
  },
  { name: "requireJsonBody", path: "/v1/*", handler: requireJsonBody },
];
