/**
 * /docs renders the OpenAPI document with a renderer the Worker serves itself (a pinned Swagger UI), under a
 * Content-Security-Policy that lets the page load nothing from any other origin: offline it still renders, and no
 * CDN can change what runs on the service's origin.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { appWithEnv } from "../support/app-with-env";
import { expectProblem } from "../support/problems";
import { callWorker, WORKER_ORIGIN } from "../support/worker";

/** The directives of a Content-Security-Policy header, each with its sources. */
function policyDirectives(response: Response): Map<string, string[]> {
  const header = response.headers.get("Content-Security-Policy") ?? "";
  const directives = header
    .split(";")
    .map((part) => part.trim().split(/\s+/))
    .filter(([name]) => name)
    .map(([name, ...sources]): [string, string[]] => [name!.toLowerCase(), sources]);
  return new Map(directives);
}

/** Sources that stay on the service's own origin or inside the document; anything else names another origin. */
const OWN_SOURCES = new Set(["'self'", "'none'", "'unsafe-inline'", "data:"]);

function expectNothingExternalAllowed(response: Response): void {
  const directives = policyDirectives(response);
  expect(directives.get("default-src")).toEqual(["'none'"]);
  expect(directives.get("script-src")).toEqual(["'self'"]);
  expect(directives.get("base-uri")).toEqual(["'none'"]);
  expect(directives.get("frame-ancestors")).toEqual(["'none'"]);
  for (const [name, sources] of directives) {
    for (const source of sources) expect(OWN_SOURCES.has(source), `${name} allows ${source}`).toBe(true);
  }
}

/** Every http(s) URL in a text, except those on the Worker's own origin. */
function otherOrigins(text: string): string[] {
  return (text.match(/https?:\/\/[^\s"'<>)]+/gi) ?? []).filter((url) => new URL(url).origin !== WORKER_ORIGIN);
}

async function docsPage(): Promise<{ response: Response; html: string; scripts: string[]; stylesheets: string[] }> {
  const response = await callWorker("/docs");
  const html = await response.text();
  const scripts = [...html.matchAll(/<script\b([^>]*)>/gi)].map(([, attributes]) => /\bsrc="([^"]+)"/.exec(attributes!)?.[1] ?? "");
  const stylesheets = [...html.matchAll(/<link\b[^>]*\brel="stylesheet"[^>]*>/gi)].map(([tag]) => /\bhref="([^"]+)"/.exec(tag)?.[1] ?? "");
  return { response, html, scripts, stylesheets };
}

describe("the /docs page", () => {
  it("is an HTML page under a Content-Security-Policy that allows nothing from another origin", async () => {
    const { response } = await docsPage();
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/^text\/html/);
    expectNothingExternalAllowed(response);
  });

  it("names no other origin anywhere in the page", async () => {
    const { html } = await docsPage();
    expect(html).toContain('id="swagger-ui"');
    expect(otherOrigins(html)).toEqual([]);
  });

  it("has no inline script: every script is a file on the service's own path", async () => {
    const { html, scripts } = await docsPage();
    expect(scripts.length).toBeGreaterThanOrEqual(2);
    for (const src of scripts) expect(src).toMatch(/^\/docs\//);
    expect(html).not.toMatch(/<script\b[^>]*>[^<\s]/i);
    expect(html).not.toMatch(/\son[a-z]+=/i);
  });

  it("serves the pinned renderer's script and stylesheet with a long cache lifetime, under the same policy", async () => {
    const { scripts, stylesheets } = await docsPage();
    const bundle = scripts.find((src) => src.endsWith("/swagger-ui-bundle.js"));
    const stylesheet = stylesheets.find((href) => href.endsWith("/swagger-ui.css"));
    // The pinned version is part of the path, so a cache never serves another version's file under it.
    expect(bundle).toMatch(/^\/docs\/swagger-ui\/\d+\.\d+\.\d+\/swagger-ui-bundle\.js$/);
    expect(stylesheet).toMatch(/^\/docs\/swagger-ui\/\d+\.\d+\.\d+\/swagger-ui\.css$/);

    for (const [path, contentType, marker] of [
      [bundle!, /^text\/javascript/, "SwaggerUIBundle"],
      [stylesheet!, /^text\/css/, ".swagger-ui"],
    ] as const) {
      const response = await callWorker(path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get("Content-Type")).toMatch(contentType);
      expect(response.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
      expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
      expectNothingExternalAllowed(response);
      expect(await response.text()).toContain(marker);
    }
  });

  it("starts the renderer on /openapi.json from a same-origin initializer script", async () => {
    const { html, scripts } = await docsPage();
    const initializer = scripts.find((src) => !src.includes("/swagger-ui/"));
    expect(initializer).toBeDefined();
    // The initializer runs after the bundle: scripts with `defer` run in document order.
    expect(scripts.indexOf(initializer!)).toBeGreaterThan(scripts.findIndex((src) => src.endsWith("/swagger-ui-bundle.js")));

    const response = await callWorker(initializer!);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/^text\/javascript/);
    expectNothingExternalAllowed(response);
    const script = await response.text();
    expect(script).toContain("SwaggerUIBundle(");
    expect(script).toMatch(/url:\s*"\/openapi\.json"/);
    const domId = /dom_id:\s*"#([^"]+)"/.exec(script)?.[1];
    expect(html).toContain(`id="${domId}"`);
    // Swagger UI's default validator badge is an image from validator.swagger.io: switched off.
    expect(script).toMatch(/validatorUrl:\s*null/);
    expect(otherOrigins(script)).toEqual([]);
  });

  it.each([
    ["a source map the page does not use", (version: string) => `/docs/swagger-ui/${version}/swagger-ui-bundle.js.map`],
    ["another file of the renderer's package", (version: string) => `/docs/swagger-ui/${version}/index.html`],
    ["the bundle under another version", () => "/docs/swagger-ui/0.0.0/swagger-ui-bundle.js"],
    ["a path that climbs out of the renderer's folder", (version: string) => `/docs/swagger-ui/${version}/..%2f..%2fdocs`],
    ["any other path under /docs", () => "/docs/anything"],
  ])("answers %s with a not-found problem", async (_, path) => {
    const { scripts } = await docsPage();
    const version = /\/docs\/swagger-ui\/([^/]+)\//.exec(scripts.join(" "))?.[1] ?? "";
    const response = await callWorker(path(version));
    expectNothingExternalAllowed(response);
    await expectProblem(response, 404, "not-found");
  });

  it("answers a 500 that says nothing internal, and names the missing copy step in the log, when the deployment lacks the renderer's files", async () => {
    const { stylesheets } = await docsPage();
    const withoutAssets = { ...env, ASSETS: { fetch: async () => new Response("", { status: 404 }) } } as unknown as Env;
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const response = await appWithEnv(withoutAssets)(stylesheets[0]!, {});
      const problem = await expectProblem(response, 500, "internal");
      expect(problem.detail).toBe("The service is misconfigured.");
      expect(logged.mock.calls.flat().join("\n")).toContain("npm run docs:assets");
    } finally {
      logged.mockRestore();
    }
  });
});
