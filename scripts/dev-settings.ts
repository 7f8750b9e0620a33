/**
 * The local settings the development scripts share (`npm run dev`, `npm run dev:oidc`, `npm run token`): `.dev.vars`
 * in the package directory, over the `vars` of wrangler.jsonc, as `wrangler dev` itself combines them.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

export const DEV_VARS_FILE = ".dev.vars";

/** KEY=VALUE lines, values optionally in single or double quotes; blank lines and `#` comments are skipped. */
export function parseDevVars(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match?.[1] || match[2] === undefined) continue;
    const quoted = /^(["'])(.*)\1$/.exec(match[2]);
    vars.set(match[1], quoted?.[2] ?? match[2]);
  }
  return vars;
}

/** The `.dev.vars` of the package in `directory`; empty when there is none. */
function readDevVars(directory: string): Map<string, string> {
  const file = path.join(directory, DEV_VARS_FILE);
  return existsSync(file) ? parseDevVars(readFileSync(file, "utf8")) : new Map();
}

/** What wrangler.jsonc in `directory` declares: its `vars` and its cron schedules. */
async function wranglerConfig(directory: string): Promise<{ vars: Record<string, unknown>; crons: string[] }> {
  // Loaded only when needed: wrangler takes seconds to load, and `npm run token` runs inside a shell substitution.
  const { unstable_readConfig } = await import("wrangler");
  // wrangler's declarations leave its Config type unresolved (`any`): these are the fields used here.
  const config = unstable_readConfig({ config: path.join(directory, "wrangler.jsonc") }) as {
    vars: Record<string, unknown>;
    triggers: { crons?: string[] };
  };
  return { vars: config.vars, crons: config.triggers.crons ?? [] };
}

/** `PUBLIC_BASE_URL` as `wrangler dev` will see it: the origin every link the service hands out names. */
export async function devOrigin(directory: string): Promise<URL> {
  const value = readDevVars(directory).get("PUBLIC_BASE_URL") ?? (await wranglerConfig(directory)).vars.PUBLIC_BASE_URL;
  if (typeof value !== "string") throw new Error("PUBLIC_BASE_URL is set neither in .dev.vars nor in wrangler.jsonc");
  return new URL(value);
}

/** The port of an http origin, its scheme's default when it names none. */
export function portOf(origin: URL): number {
  return origin.port === "" ? (origin.protocol === "https:" ? 443 : 80) : Number(origin.port);
}

/** The first cron schedule of wrangler.jsonc (the Worker's scheduled handler does the same work for any). */
export async function devCron(directory: string): Promise<string> {
  const [cron] = (await wranglerConfig(directory)).crons;
  if (cron === undefined) throw new Error("wrangler.jsonc declares no cron trigger");
  return cron;
}
