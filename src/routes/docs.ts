/**
 * GET /docs: the OpenAPI document (/openapi.json) rendered by the pinned Swagger UI that the Worker serves itself
 * (src/docs/renderer.ts), never by a script from a CDN: the page works offline, and what runs on the service's
 * origin is exactly the reviewed package version. Every response under /docs carries a Content-Security-Policy
 * that allows nothing from another origin, so not even a compromised renderer can load or send anything elsewhere.
 */
import { createMiddleware } from "hono/factory";
import { ConfigError } from "../config";
import { RENDERER_FILES, RENDERER_PATH } from "../docs/renderer";
import { createPublicRouter } from "../http/routers";

/**
 * What Swagger UI needs and no more (checked in headless Chromium: rendering, expanding an operation, the Authorize
 * dialog and "Try it out" raise no violation): its own script and stylesheet, the stylesheet's `data:` images,
 * fetches of /openapi.json and "Try it out" on the same origin. No inline script or style (the initializer is a file
 * for that reason; React sets styles through the CSSOM, which style-src does not govern), no eval, no fonts, no
 * frames, no <base>, no form submission (the Authorize dialog handles its form in script).
 */
const DOCS_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const INITIALIZER_PATH = "/docs/swagger-initializer.js";

// `defer` runs the two scripts in document order after parsing, so the bundle is there when the initializer calls
// it. The `data:` icon spares the browser a request for /favicon.ico.
const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>OAuth connection manager API</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="${RENDERER_PATH}/swagger-ui.css">
    <script src="${RENDERER_PATH}/swagger-ui-bundle.js" defer></script>
    <script src="${INITIALIZER_PATH}" defer></script>
  </head>
  <body>
    <div id="swagger-ui"></div>
  </body>
</html>
`;

// Swagger UI's default `validatorUrl` shows a badge image from validator.swagger.io: switched off.
const INITIALIZER = `SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", validatorUrl: null });
`;

/** The renderer's files never change under their versioned path. */
const IMMUTABLE = "public, max-age=31536000, immutable";
/** The page and the initializer name the renderer's version, so a browser asks again rather than keep an old one. */
const REVALIDATE = "no-cache";

const docsPolicy = createMiddleware(async function docsPolicy(c, next) {
  await next();
  c.header("Content-Security-Policy", DOCS_POLICY);
});

export const docsRoutes = createPublicRouter();

// Hono's "/docs/*" matches /docs itself too.
docsRoutes.use("/docs/*", docsPolicy);

docsRoutes.get("/docs", (c) => c.html(PAGE, 200, { "Cache-Control": REVALIDATE }));

docsRoutes.get(INITIALIZER_PATH, (c) =>
  c.body(INITIALIZER, 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": REVALIDATE }),
);

docsRoutes.get(`${RENDERER_PATH}/:file`, async (c) => {
  const file = c.req.param("file");
  const contentType = Object.hasOwn(RENDERER_FILES, file) ? RENDERER_FILES[file] : undefined;
  if (!contentType) return c.notFound();
  const path = `${RENDERER_PATH}/${file}`;
  const asset = await c.env.ASSETS.fetch(new URL(path, c.req.url));
  if (!asset.ok) {
    throw new ConfigError("ASSETS", `answered ${asset.status} for ${path}: run \`npm run docs:assets\` before wrangler dev or deploy`);
  }
  // A GET the asset server answered 200 has a body.
  return c.body(asset.body!, 200, { "Content-Type": contentType, "Cache-Control": IMMUTABLE });
});
