/**
 * Copies the /docs renderer (src/docs/renderer.ts: Swagger UI's bundle and stylesheet, no source maps) from
 * node_modules/swagger-ui-dist into public/, the git-ignored static assets folder of wrangler.jsonc, and removes
 * anything else from the renderer's folder (another version's files). Wrangler reads that folder when it starts
 * (`dev`, `deploy`, the tests' Miniflare), so `predev`, `pretest`, `pretest:e2e`, `prebench`, `predeploy` and the
 * Vitest global set-up run this first. A file already identical is left alone, so a run never rewrites a file that
 * a Worker started by another run is serving.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { RENDERER_FILES, RENDERER_PATH } from "../src/docs/renderer";

const ROOT = resolve(import.meta.dirname, "..");
const PACKAGE = join(ROOT, "node_modules", "swagger-ui-dist");
/** wrangler.jsonc `assets.directory`. */
const ASSETS_DIRECTORY = join(ROOT, "public");

/** Copies the renderer's files into the assets folder; returns the folder they are in. */
export function copyDocsAssets(): string {
  const target = join(ASSETS_DIRECTORY, RENDERER_PATH);
  mkdirSync(target, { recursive: true });
  const files = Object.keys(RENDERER_FILES);
  for (const file of files) {
    const source = join(PACKAGE, file);
    const copy = join(target, file);
    if (!existsSync(copy) || !readFileSync(copy).equals(readFileSync(source))) copyFileSync(source, copy);
  }
  removeAllBut(join(target, ".."), [target]);
  removeAllBut(
    target,
    files.map((file) => join(target, file)),
  );
  return target;
}

function removeAllBut(folder: string, keep: readonly string[]): void {
  for (const entry of readdirSync(folder)) {
    const path = join(folder, entry);
    if (!keep.includes(path)) rmSync(path, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(`Copied the /docs renderer into ${copyDocsAssets()}.`);
}
