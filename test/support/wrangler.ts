/**
 * `wrangler` as the end-to-end run and the bench start it (Node only): the repository's own wrangler, run by this
 * Node, in an environment where nothing of the developer's leaks in (no `.dev.vars`/`.env`, no NODE_OPTIONS, no
 * process.env as Worker secrets), and `wrangler dev` with every binding passed as `--var`.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { freePort, runToCompletion, startGroup, waitForHttp, type ProcessGroup } from "./processes";

export const REPOSITORY_ROOT = path.resolve(import.meta.dirname, "..", "..");
const WRANGLER = path.join(REPOSITORY_ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const READY_TIMEOUT_MS = 120_000;

/** This process's environment without what would change wrangler's behaviour or reach the network; its logs go to `workDir`. */
export function wranglerEnvironment(workDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // A test runner's or tsx's loader hooks must not reach wrangler's Node; process.env must not become Worker secrets.
  delete env.NODE_OPTIONS;
  delete env.CLOUDFLARE_INCLUDE_PROCESS_ENV;
  return {
    ...env,
    CI: "true",
    NO_COLOR: "1",
    FORCE_COLOR: "0",
    WRANGLER_SEND_METRICS: "false",
    // The Worker reads nothing from `request.cf`; wrangler dev would fetch Cloudflare's sample of it at every start.
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_LOG_PATH: path.join(workDir, "wrangler-logs"),
    CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "false",
    // Every `wrangler dev` on the machine shares one dev registry by default, and a change to it (another run starting
    // or stopping) reloads this Worker, which drops the local queues' in-memory messages mid-run.
    WRANGLER_REGISTRY_PATH: path.join(workDir, "wrangler-registry"),
  };
}

export interface WranglerOptions {
  /** A scratch directory of the run: wrangler's own logs and the empty env file go there. */
  workDir: string;
  /** Where wrangler's output is appended. */
  logFile: string;
}

/** Runs one wrangler command (`d1 migrations apply`, `deploy --dry-run`, …) from the repository root; returns its output. */
export function runWrangler(args: readonly string[], options: WranglerOptions & { timeoutMs: number }): Promise<string> {
  return runToCompletion(process.execPath, [WRANGLER, ...args], {
    cwd: REPOSITORY_ROOT,
    env: wranglerEnvironment(options.workDir),
    logFile: options.logFile,
    timeoutMs: options.timeoutMs,
  });
}

export interface WranglerDevOptions extends WranglerOptions {
  /** Names the process group in messages. */
  name: string;
  port: number;
  /** Local D1/KV/Durable Object state. */
  persistTo: string;
  /** Every binding, as `--var NAME:VALUE`. */
  vars: Record<string, string>;
  /** Further arguments: `--test-scheduled`, `--config …`, a script and `--no-bundle`, … */
  args?: readonly string[];
  /** A path that answers 200 once the Worker serves (the service's `/health`); without it any answer at `/` will do. */
  readyPath?: string;
}

export interface WranglerDev {
  group: ProcessGroup;
  /** `http://127.0.0.1:{port}`. */
  origin: string;
}

/** Starts `wrangler dev` on 127.0.0.1:`port` and resolves once the Worker answers; stops it again if it never does. */
export async function startWranglerDev(options: WranglerDevOptions): Promise<WranglerDev> {
  // An empty --env-file, so a developer's .dev.vars or .env never reaches the Worker.
  const envFile = path.join(options.workDir, "empty.env");
  writeFileSync(envFile, "");
  const inspectorPort = await freePort();
  const group = startGroup(
    options.name,
    process.execPath,
    [
      WRANGLER,
      "dev",
      ...(options.args ?? []),
      "--ip",
      "127.0.0.1",
      "--port",
      String(options.port),
      "--inspector-port",
      String(inspectorPort),
      "--persist-to",
      options.persistTo,
      "--env-file",
      envFile,
      "--show-interactive-dev-session=false",
      // `--var NAME:VALUE` splits at the first colon only, so URLs and JSON pass intact.
      ...Object.entries(options.vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
    ],
    { cwd: REPOSITORY_ROOT, env: wranglerEnvironment(options.workDir), logFile: options.logFile },
  );
  const origin = `http://127.0.0.1:${options.port}`;
  try {
    await waitForHttp(`${origin}${options.readyPath ?? "/"}`, {
      timeoutMs: READY_TIMEOUT_MS,
      group,
      ...(options.readyPath === undefined ? {} : { status: 200 }),
    });
  } catch (error) {
    await group.stop();
    throw error;
  }
  return { group, origin };
}
