/**
 * The breakdown's steps (bench/breakdown/index.ts) run in Node: the same modules in V8 (workerd's engine), with the
 * bindings answered in process — D1 by SQLite (bench/lib/sqlite-d1.ts), the rate limiter by a function that always
 * allows, the audit queue by a producer that keeps nothing (its consumer's batched write is not the request's). What a
 * step adds here is its JavaScript and SQL cost alone, measured on one thread with nothing in
 * between, so it resolves differences far below what `wrangler dev` under load can; what it leaves out (the
 * platform's round trips for D1, the rate limiter, the assets router) is what the `wrangler dev` breakdown adds.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { sqliteD1 } from "../lib/sqlite-d1";

export interface StepCost {
  name: string;
  adds: string;
  /** Process CPU (user + system) per request, ms. */
  cpuMs: number;
}

export interface LadderOptions {
  /** Where the bundle is written. */
  outDir: string;
  /** The service's variables. */
  vars: Record<string, string>;
  /** Migrations and seed rows, as SQL. */
  setupSql: string;
  /** Requests to send, in rotation: connection id and the owner's `Authorization` header. */
  targets: { connectionId: string; caller: { Authorization: string } }[];
  /** Measured requests per step, over the rounds (after as many again to warm up). */
  requests: number;
}

const ROUNDS = 4;

interface LadderWorker {
  fetch(request: Request, env: unknown, ctx: unknown): Promise<Response>;
}

/** workerd's module `cloudflare:workers` as far as src/ uses it when imported (the Durable Object base class). */
const CLOUDFLARE_WORKERS_STUB = "export class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }";

async function bundle(outDir: string): Promise<LadderWorker> {
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, "ladder.mjs");
  await build({
    entryPoints: [join(import.meta.dirname, "index.ts")],
    bundle: true,
    format: "esm",
    platform: "node",
    // The export conditions wrangler resolves with, so the same files of each package are measured.
    conditions: ["workerd", "worker", "browser"],
    outfile,
    logLevel: "error",
    plugins: [
      {
        name: "cloudflare-workers-stub",
        setup(plugin) {
          plugin.onResolve({ filter: /^cloudflare:workers$/ }, () => ({ path: "cloudflare:workers", namespace: "stub" }));
          plugin.onLoad({ filter: /.*/, namespace: "stub" }, () => ({ contents: CLOUDFLARE_WORKERS_STUB, loader: "js" }));
        },
      },
    ],
  });
  return ((await import(pathToFileURL(outfile).href)) as { default: LadderWorker }).default;
}

/** Each step's CPU per request in this process, in the order the Worker lists them. */
export async function ladderInNode(options: LadderOptions): Promise<StepCost[]> {
  const worker = await bundle(options.outDir);
  const env = {
    ...options.vars,
    DB: sqliteD1(options.setupSql),
    USER_RATE_LIMITER: { limit: async () => ({ success: true }) },
    AUDIT_QUEUE: { send: async () => {}, sendBatch: async () => {} },
  };
  const pending: Promise<unknown>[] = [];
  const ctx = { waitUntil: (promise: Promise<unknown>) => pending.push(promise), passThroughOnException: () => {} };
  let next = 0;
  const send = async (path: string) => {
    const target = options.targets[next++ % options.targets.length]!;
    const response = await worker.fetch(
      new Request(`http://bench.local${path.replace("{id}", target.connectionId)}`, {
        method: "POST",
        headers: { authorization: target.caller.Authorization, "content-type": "application/json" },
        body: "{}",
      }),
      env,
      ctx,
    );
    const body = await response.text();
    // The work after the response (waitUntil) is the request's too.
    await Promise.all(pending.splice(0));
    if (response.status !== 200) throw new Error(`${path}: ${response.status} ${body.slice(0, 200)}`);
  };
  const steps = (await (await worker.fetch(new Request("http://bench.local/__steps"), env, ctx)).json()) as Omit<StepCost, "cpuMs">[];
  const paths = steps.map((step) => `/${step.name}/v1/connections/{id}/token`);
  for (const path of paths) for (let i = 0; i < options.requests; i++) await send(path);
  // Rounds in turn, as in `wrangler dev`: what the order of steps does to the JIT and the heap spreads over all.
  const cpuUs = steps.map(() => 0);
  const perRound = Math.ceil(options.requests / ROUNDS);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [index, path] of paths.entries()) {
      const before = process.cpuUsage();
      for (let i = 0; i < perRound; i++) await send(path);
      const used = process.cpuUsage(before);
      cpuUs[index]! += used.user + used.system;
    }
  }
  const costs = steps.map((step, index) => ({ ...step, cpuMs: cpuUs[index]! / 1000 / (perRound * ROUNDS) }));
  return costs;
}
