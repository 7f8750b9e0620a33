/**
 * Queue consumer invocations of a `wrangler dev`, as it logs each one when the batch is settled:
 * `QUEUE <queue> <acked>/<total> (<duration>ms)` (miniflare's queue broker). The log line carries no time, so lines
 * are stamped when they are read, every `everyMs`: a batch ran from (read time − duration) to the read time, give or
 * take that interval.
 */
import type { ProcessGroup } from "../../test/support/processes";

export interface QueueBatch {
  queue: string;
  acked: number;
  total: number;
  startedAt: number;
  endedAt: number;
}

const BATCH_LINE = /QUEUE (\S+) (\d+)\/(\d+)(?: \((\d+)ms\))?/g;
// The broker colours its line; wrangler may pass the codes through.
const ANSI = /\x1b\[[0-9;]*m/g;

/** Collects the batches `group` logs from now on; `stop()` ends the watch and returns them. */
export function watchQueueBatches(group: ProcessGroup, everyMs = 100): { batches(): QueueBatch[]; stop(): QueueBatch[] } {
  const seen: QueueBatch[] = [];
  let offset = group.output().length;
  const read = () => {
    const text = group.output();
    // Only whole lines: a line still being written is read next time.
    const end = text.lastIndexOf("\n") + 1;
    if (end <= offset) return;
    const now = performance.now();
    for (const match of text.slice(offset, end).replace(ANSI, "").matchAll(BATCH_LINE)) {
      const [, queue, acked, total, duration] = match;
      seen.push({ queue: queue!, acked: Number(acked), total: Number(total), startedAt: now - Number(duration ?? 0), endedAt: now });
    }
    offset = end;
  };
  const timer = setInterval(read, everyMs);
  return {
    batches: () => (read(), [...seen]),
    stop: () => {
      clearInterval(timer);
      read();
      return seen;
    },
  };
}

/** The most batches (of `queue`, or of any queue) running at one moment. */
export function peakConcurrency(batches: readonly QueueBatch[], queue?: string): number {
  const edges = batches
    .filter((batch) => queue === undefined || batch.queue === queue)
    .flatMap((batch) => [
      { at: batch.startedAt, change: 1 },
      { at: batch.endedAt, change: -1 },
    ])
    // At the same instant an end goes first: back-to-back batches did not overlap.
    .sort((a, b) => a.at - b.at || a.change - b.change);
  let running = 0;
  let peak = 0;
  for (const edge of edges) {
    running += edge.change;
    peak = Math.max(peak, running);
  }
  return peak;
}

/** Batches and messages per queue, e.g. `vault-jobs: 50 batches, 5000 messages`. */
export function summarizeBatches(batches: readonly QueueBatch[]): Record<string, { batches: number; messages: number; peak: number }> {
  const queues = [...new Set(batches.map((batch) => batch.queue))].sort();
  return Object.fromEntries(
    queues.map((queue) => {
      const own = batches.filter((batch) => batch.queue === queue);
      return [queue, { batches: own.length, messages: own.reduce((sum, batch) => sum + batch.total, 0), peak: peakConcurrency(own) }];
    }),
  );
}
