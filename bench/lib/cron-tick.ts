/**
 * One cron tick against a `wrangler dev` of the service (`GET /__scheduled`, which `--test-scheduled` adds), and
 * what followed it: how long until the mock provider had seen every expiring connection's refresh token, how many
 * upstream calls that took, whether any token was refreshed twice, how many refreshes ran at once, which consumer
 * batches ran, and what a second tick right after does (it must find nothing left to do).
 */
import { sendOverNodeHttp } from "../../test/support/node-http";
import type { WranglerDev } from "../../test/support/wrangler";
import { watchQueueBatches, type QueueBatch } from "./queue-batches";

export interface UpstreamStats {
  calls: number;
  distinct: number;
  repeated: number;
  max_in_flight: number;
  tokens_repeated: string[];
}

export interface TickResult {
  rows: number;
  /** From the tick's request to the last distinct refresh token reaching the mock; null when not all arrived. */
  allRefreshedMs: number | null;
  /** Counted after the queues fell quiet, second tick included. */
  upstream: UpstreamStats;
  /** Upstream calls caused by a second tick once the first had finished (must be 0). */
  secondTickCalls: number;
  /** Consumer batches from the first tick to the end (second tick included). */
  batches: QueueBatch[];
}

export interface TickOptions {
  server: WranglerDev;
  mockOrigin: string;
  /** The refresh tokens of these connections start with it (`rt-cron-`). */
  prefix: string;
  rows: number;
  /** Give up waiting for all refreshes after this long. */
  timeoutMs: number;
  log: (message: string) => void;
}

const POLL_MS = 500;
/** Nothing refreshed for this long: the rest will not come (a queue retry waits 30 s at most). */
const NO_PROGRESS_MS = 120_000;
/** Quiet for this long (no upstream call, no consumer batch settled): the queues have nothing left in hand. */
const QUIET_MS = 8_000;
const MAX_SETTLE_MS = 120_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function stats(options: TickOptions): Promise<UpstreamStats> {
  const response = await fetch(`${options.mockOrigin}/__stats?prefix=${options.prefix}`);
  return (await response.json()) as UpstreamStats;
}

async function tick(server: WranglerDev): Promise<void> {
  const response = await sendOverNodeHttp(new Request(`${server.origin}/__scheduled?cron=${encodeURIComponent("*/5 * * * *")}`));
  const body = await response.text();
  if (response.status !== 200) throw new Error(`/__scheduled answered ${response.status}: ${body.slice(0, 300)}`);
}

/** Waits until no upstream call and no consumer batch has happened for QUIET_MS (at most MAX_SETTLE_MS). */
async function settle(options: TickOptions, batches: () => QueueBatch[]): Promise<UpstreamStats> {
  const started = performance.now();
  let last = await stats(options);
  let lastChange = performance.now();
  while (performance.now() - started < MAX_SETTLE_MS) {
    await sleep(POLL_MS);
    const now = await stats(options);
    const lastBatch = Math.max(0, ...batches().map((batch) => batch.endedAt));
    if (now.calls !== last.calls) lastChange = performance.now();
    last = now;
    if (performance.now() - Math.max(lastChange, lastBatch) >= QUIET_MS) break;
  }
  return last;
}

export async function oneCronTick(options: TickOptions): Promise<TickResult> {
  const response = await fetch(`${options.mockOrigin}/__reset_peak`, { method: "POST" });
  if (!response.ok) throw new Error(`mock /__reset_peak: ${response.status}`);
  const watch = watchQueueBatches(options.server.group);
  const started = performance.now();
  await tick(options.server);
  let allRefreshedMs: number | null = null;
  let refreshed = 0;
  let progressAt = performance.now();
  let loggedAt = 0;
  while (performance.now() - started < options.timeoutMs && performance.now() - progressAt < NO_PROGRESS_MS) {
    const { distinct } = await stats(options);
    if (distinct > refreshed) progressAt = performance.now();
    refreshed = distinct;
    if (distinct >= options.rows) {
      allRefreshedMs = performance.now() - started;
      break;
    }
    if (performance.now() - loggedAt > 10_000) {
      options.log(`  ${distinct}/${options.rows} refreshed after ${((performance.now() - started) / 1000).toFixed(0)} s`);
      loggedAt = performance.now();
    }
    await sleep(POLL_MS);
  }
  const afterFirst = await settle(options, watch.batches);
  await tick(options.server);
  // The second tick's scan page waits for its batch window (a second or two) before it is read.
  await sleep(5_000);
  const upstream = await settle(options, watch.batches);
  const batches = watch.stop();
  return {
    rows: options.rows,
    allRefreshedMs,
    upstream,
    secondTickCalls: upstream.calls - afterFirst.calls,
    batches,
  };
}
