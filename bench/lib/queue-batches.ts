/**
 * Queue consumer invocations of a `wrangler dev`, as it logs each one when the batch is settled:
 * `QUEUE <queue> <acked>/<total> (<duration>ms)` (miniflare's queue broker). The line carries no time and wrangler
 * passes lines on in bursts, so when a batch ran is known only roughly (it ended by the time its line was read);
 * its count and duration are exact. Summed durations over a span of time say how many batches of a queue were in
 * progress on average: locally never more than one, since the broker delivers one batch per queue at a time.
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

export interface QueueSummary {
  batches: number;
  messages: number;
  /** The batches' durations added up, ms. */
  busyMs: number;
}

/** Batches, messages and time spent per queue. */
export function summarizeBatches(batches: readonly QueueBatch[]): Record<string, QueueSummary> {
  const queues = [...new Set(batches.map((batch) => batch.queue))].sort();
  return Object.fromEntries(
    queues.map((queue) => {
      const own = batches.filter((batch) => batch.queue === queue);
      const sum = (field: (batch: QueueBatch) => number) => own.reduce((total, batch) => total + field(batch), 0);
      return [
        queue,
        { batches: own.length, messages: sum((batch) => batch.total), busyMs: sum((batch) => batch.endedAt - batch.startedAt) },
      ];
    }),
  );
}
