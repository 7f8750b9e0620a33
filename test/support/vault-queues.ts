/**
 * The vault's queues (src/queues/) in workerd tests, delivered by the test itself. The Worker runs with queue bindings
 * that keep what is sent to them (`RecordingQueue`); the test hands those messages to the Worker's own queue handler
 * as batches (`createMessageBatch`) and reads how each message was settled (`getQueueResult`). The local queues of
 * wrangler.jsonc stay idle, so no consumer runs in the background of another test; e2e/ drives the real queues under
 * `wrangler dev`.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env as bindings } from "cloudflare:workers";
import { expect, vi } from "vitest";
import worker from "../../src/index";
import { VAULT_QUEUES, type ScanPage, type VaultJob } from "../../src/queues/messages";
import type { RefreshOutcome } from "../../src/queues/vault-jobs";
import { runScheduledTasks } from "../../src/scheduled/run";
import type { ReEncryptResult } from "../../src/vault/re-encryption";

/** wrangler.jsonc: `max_batch_size` of `vault-jobs`. */
export const JOB_BATCH_SIZE = 100;

/** A queue binding that keeps what is sent to it, and refuses what the platform refuses. */
export class RecordingQueue<Body = unknown> implements Queue<Body> {
  readonly sent: MessageSendRequest<Body>[] = [];
  /** The size of each `sendBatch` call. */
  readonly batchSizes: number[] = [];

  async metrics(): Promise<QueueMetrics> {
    return { backlogCount: this.sent.length, backlogBytes: 0 };
  }

  async send(body: Body, options: QueueSendOptions = {}): Promise<QueueSendResponse> {
    this.sent.push({ ...options, body });
    return { metadata: { metrics: await this.metrics() } };
  }

  async sendBatch(messages: Iterable<MessageSendRequest<Body>>, options: QueueSendBatchOptions = {}): Promise<QueueSendBatchResponse> {
    const batch = [...messages];
    if (batch.length > 100) throw new Error(`sendBatch: ${batch.length} messages, the platform takes at most 100`);
    this.batchSizes.push(batch.length);
    this.sent.push(...batch.map((message) => ({ ...options, ...message })));
    return { metadata: { metrics: await this.metrics() } };
  }

  /** Removes and returns the bodies sent so far. */
  take(): Body[] {
    return this.sent.splice(0).map((message) => message.body);
  }
}

export interface VaultQueues {
  /** The Worker's env with the recording queues. */
  env: Env;
  scans: RecordingQueue<ScanPage>;
  jobs: RecordingQueue<VaultJob>;
}

/** Recording queues in place of the Worker's (`base`: the bindings, or another env such as `envWithKeys(…)`). */
export function vaultQueues(base: Env = bindings): VaultQueues {
  const scans = new RecordingQueue<ScanPage>();
  const jobs = new RecordingQueue<VaultJob>();
  return { env: { ...base, VAULT_SCAN_QUEUE: scans, VAULT_JOB_QUEUE: jobs }, scans, jobs };
}

/** How the handler settled one message. */
export interface Settled {
  acked: boolean;
  retried: boolean;
  /** The retry's delay, when the handler chose one (else the consumer's `retry_delay` applies). */
  delaySeconds?: number;
}

let messageCount = 0;

/**
 * Delivers `bodies` to the Worker's queue handler as one batch of `queue`, each on its `attempts`-th delivery;
 * returns how each message was settled, in order.
 */
export async function deliver(queue: string, bodies: readonly unknown[], env: Env, attempts = 1): Promise<Settled[]> {
  const ids = bodies.map(() => `msg-${++messageCount}`);
  const batch = createMessageBatch(
    queue,
    bodies.map((body, index) => ({ id: ids[index]!, timestamp: Date.now(), attempts, body })),
  );
  // The plugin's batch notes that a message was retried, not the delay asked for: the delay is read on the way.
  const delays = new Map<string, number>();
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    vi.spyOn(message, "retry").mockImplementation((options) => {
      if (options?.delaySeconds !== undefined) delays.set(message.id, options.delaySeconds);
      retry(options);
    });
  }
  const context = createExecutionContext();
  await worker.queue(batch, env, context);
  const result = await getQueueResult(batch, context);
  const retried = new Set(result.retryMessages.map((retry) => retry.msgId));
  return ids.map((id) => {
    const delaySeconds = delays.get(id);
    return {
      acked: result.ackAll || result.explicitAcks.includes(id),
      retried: result.retryBatch.retry || retried.has(id),
      ...(delaySeconds === undefined ? {} : { delaySeconds }),
    };
  });
}

/** Reads every queued scan page (and the pages they queue) through the scan consumer; returns how many there were. */
export async function readScanPages(queues: VaultQueues): Promise<number> {
  let pages = 0;
  for (let queued = queues.scans.take(); queued.length > 0; queued = queues.scans.take()) {
    for (const page of queued) {
      pages++;
      // One page per batch, as wrangler.jsonc delivers them.
      expect(await deliver(VAULT_QUEUES.scans, [page], queues.env)).toEqual([{ acked: true, retried: false }]);
    }
  }
  return pages;
}

/** Runs the cron at `now` and reads the scan pages it queued; returns the jobs they queued (taken off the queue). */
export async function scanAt(queues: VaultQueues, now: number): Promise<VaultJob[]> {
  await runScheduledTasks(queues.env, now);
  await readScanPages(queues);
  return queues.jobs.take();
}

/** Delivers `jobs` to the job consumer in batches of wrangler.jsonc's size; returns each job with its settlement. */
export async function runJobs(queues: VaultQueues, jobs: readonly VaultJob[]): Promise<{ job: VaultJob; settled: Settled }[]> {
  const done: { job: VaultJob; settled: Settled }[] = [];
  for (let start = 0; start < jobs.length; start += JOB_BATCH_SIZE) {
    const batch = jobs.slice(start, start + JOB_BATCH_SIZE);
    const settled = await deliver(VAULT_QUEUES.jobs, batch, queues.env);
    done.push(...batch.map((job, index) => ({ job, settled: settled[index]! })));
  }
  return done;
}

export type RefreshCounts = Record<RefreshOutcome | "error", number>;
export type ReEncryptionCounts = Record<ReEncryptResult | "error", number>;

export interface Tick {
  jobs: VaultJob[];
  settled: { job: VaultJob; settled: Settled }[];
  /** The job consumer's counts (its `queue.vault-jobs` lines), summed over the tick's batches. */
  refresh: RefreshCounts;
  reEncrypt: ReEncryptionCounts;
  /** Every JSON line logged with console.log meanwhile (the cron's, the consumers'). */
  lines: Record<string, unknown>[];
}

/**
 * One tick as production runs it: the cron at `now`, every scan page, then every job once (retries are the test's to
 * deliver). Its log lines are captured, not printed.
 */
export async function tick(queues: VaultQueues, now = Date.now()): Promise<Tick> {
  const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
  try {
    const jobs = await scanAt(queues, now);
    const settled = await runJobs(queues, jobs);
    const lines = log.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
    const batches = lines.filter((line) => line.message === `queue.${VAULT_QUEUES.jobs}`);
    return {
      jobs,
      settled,
      refresh: sumCounts(
        { refreshed: 0, fresh: 0, transient: 0, reauth: 0, operator: 0, not_found: 0, error: 0 },
        batches.map((line) => line.refresh as RefreshCounts),
      ),
      reEncrypt: sumCounts(
        { re_encrypted: 0, current: 0, not_found: 0, conflict: 0, undecryptable: 0, error: 0 },
        batches.map((line) => line.re_encrypt as ReEncryptionCounts),
      ),
      lines,
    };
  } finally {
    log.mockRestore();
  }
}

function sumCounts<Counts extends Record<string, number>>(zero: Counts, counts: readonly Counts[]): Counts {
  const sum: Record<string, number> = { ...zero };
  for (const count of counts) for (const [key, value] of Object.entries(count)) sum[key] = (sum[key] ?? 0) + value;
  return sum as Counts;
}
