/**
 * The four kinds of router. Who is authenticated is decided by the router a route is registered on, never by a
 * path: every route of an API router runs caller authentication and the per-user limit before its own middleware
 * and validation; every route of a browser router runs the per-address limit; every route of a page router runs
 * that limit too, the pages' security headers and the refusal of cross-site form posts; public routes run none.
 */
import { OpenAPIHono, type RouteConfig, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { csrf } from "hono/csrf";
import { createMiddleware } from "hono/factory";
import { ProblemError } from "../errors";
import { callerAuth } from "../middleware/caller-auth";
import { rateLimit } from "../middleware/rate-limit";
import type { ApiEnv, AppEnv } from "./env";
import { AUTHENTICATED_PROBLEMS, BEARER, problem } from "./schemas";

/** Validation problems list where and what, never the offending value. */
function describeIssues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.slice(0, 20).map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message }));
}

function newRouter<E extends AppEnv | ApiEnv>(): OpenAPIHono<E> {
  return new OpenAPIHono<E>({
    defaultHook: (result) => {
      if (!result.success) {
        const issues = describeIssues(result.error);
        throw new ProblemError("bad-request", `The ${result.target} is invalid.`, { extensions: { invalid_params: issues } });
      }
    },
  });
}

/** Registers every route of `router` with `middleware` first and `document` merged into its OpenAPI description. */
function guarded<E extends AppEnv | ApiEnv>(
  router: OpenAPIHono<E>,
  middleware: MiddlewareHandler[],
  document: (route: RouteConfig) => Partial<RouteConfig>,
): OpenAPIHono<E> {
  const register = router.openapi;
  router.openapi = ((route: RouteConfig, handler: never, hook: never) =>
    register(
      { ...route, ...document(route), middleware: [...middleware, ...[route.middleware ?? []].flat()] },
      handler,
      hook,
    )) as typeof register;
  return router;
}

const authenticateCaller = callerAuth();
const limitPerUser = rateLimit<ApiEnv>((c) => ({ limiter: c.env.USER_RATE_LIMITER, key: `user:${c.get("caller").userId}` }));
// The browser endpoints carry no identity but the address; Cloudflare always sets it (local runs may not).
const limitPerAddress = rateLimit<AppEnv>((c) => {
  const ip = c.req.header("CF-Connecting-IP");
  return ip ? { limiter: c.env.IP_RATE_LIMITER, key: `ip:${ip}` } : null;
});

/** What every route of an API router runs first, in order (named for the bench's breakdown, bench/breakdown/). */
export const API_MIDDLEWARE: readonly { name: string; handler: MiddlewareHandler }[] = [
  { name: "callerAuth", handler: authenticateCaller as MiddlewareHandler },
  { name: "perUserLimit", handler: limitPerUser as MiddlewareHandler },
];

/** A router of the JWT API: its handlers see `caller`. */
export function createApiRouter(): OpenAPIHono<ApiEnv> {
  return guarded(
    newRouter<ApiEnv>(),
    API_MIDDLEWARE.map(({ handler }) => handler),
    (route) => ({
      security: BEARER,
      responses: { ...AUTHENTICATED_PROBLEMS, 429: problem("Too many requests (Retry-After)"), ...route.responses },
    }),
  );
}

/** A router of the endpoints a user's browser reaches without a bearer token (the OAuth start and callback). */
export function createBrowserRouter(): OpenAPIHono<AppEnv> {
  return guarded(newRouter<AppEnv>(), [limitPerAddress as MiddlewareHandler], (route) => ({
    responses: { 429: problem("Too many requests from this address (Retry-After)"), ...route.responses },
  }));
}

/**
 * The hosted pages' policy. Nothing from another origin; scripts and styles only as files of the service's own (no
 * inline script or style, no eval). No `form-action`: browsers apply it to every redirect that follows a form post,
 * and the page's Connect buttons post to the page, which redirects to the start URL and on to the provider.
 */
export const PAGE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Pages hold forms only: a short body is plenty, and nothing larger is read. */
const MAX_PAGE_BODY_BYTES = 8 * 1024;

/**
 * Every page answer, error pages included: its CSP; `Cross-Origin-Opener-Policy: unsafe-none`, so a page opened as a
 * popup keeps its opener through the provider and back (the default `same-origin` would cut it off); never cached
 * (the page shows a user's accounts).
 */
const pageHeaders = createMiddleware(async function pageHeaders(c, next) {
  await next();
  c.header("Content-Security-Policy", PAGE_CONTENT_SECURITY_POLICY);
  c.header("Cross-Origin-Opener-Policy", "unsafe-none");
  c.header("Cache-Control", "no-store");
});

const limitPageBody = bodyLimit({
  maxSize: MAX_PAGE_BODY_BYTES,
  onError: () => {
    throw new ProblemError("payload-too-large");
  },
});

/**
 * A form post must come from the service's own pages: the browser says so in `Sec-Fetch-Site` (W3C Fetch Metadata)
 * or, where it does not send that, in `Origin`. Anything else is refused with 403 before the handler runs. The
 * binding cookie is `SameSite=Lax` as well, so a cross-site post would not carry it anyway.
 */
const refuseCrossSitePosts = createMiddleware<AppEnv>(function refuseCrossSitePosts(c, next) {
  return csrf({ origin: c.get("services").config.publicBaseUrl, secFetchSite: "same-origin" })(c, next);
});

/** A router of the hosted pages a person's browser opens (the connect page): HTML, forms, no bearer token. */
export function createPageRouter(): OpenAPIHono<AppEnv> {
  return guarded(
    newRouter<AppEnv>(),
    [pageHeaders, limitPerAddress as MiddlewareHandler, limitPageBody, refuseCrossSitePosts as MiddlewareHandler],
    (route) => ({
      tags: ["Connect page"],
      responses: { 429: { description: "Too many requests from this address (an HTML page)" }, ...route.responses },
    }),
  );
}

/** A router of endpoints open to anyone (health). */
export function createPublicRouter(): OpenAPIHono<AppEnv> {
  return newRouter<AppEnv>();
}
