/**
 * The renderer of /docs: Swagger UI from the exactly pinned `swagger-ui-dist` devDependency, served by the Worker
 * from its static assets (wrangler.jsonc "assets"), never from a CDN. scripts/copy-docs-assets.ts puts these files
 * into the assets folder; the route in src/routes/docs.ts serves them. Only the version is read from the package
 * (bundled at build time), so the path changes with the package and a cache never serves another version's file.
 */
import { version } from "swagger-ui-dist/package.json";

/** The renderer's folder: the URL path and, under the assets directory, where its files are copied. */
export const RENDERER_PATH = `/docs/swagger-ui/${version}`;

/** The files the page loads (not the source maps, nor the package's own demo page), with their Content-Type. */
export const RENDERER_FILES: Readonly<Record<string, string>> = {
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui.css": "text/css; charset=utf-8",
};
