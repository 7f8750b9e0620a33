/**
 * The Worker's queue handler dispatches a batch by its queue's name, and wrangler.jsonc declares those queues with
 * every consumer value set (the local defaults differ from production's) and the retry counts the dead-letter
 * record reports.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import wranglerConfig from "../../wrangler.jsonc?raw";
import { JOB_MAX_RETRIES, SCAN_MAX_RETRIES } from "../../src/queues/limits";
import { VAULT_QUEUES } from "../../src/queues/messages";
import { DELIVERY_MAX_RETRIES, WEBHOOK_QUEUES } from "../../src/webhooks/queue-messages";
import { nextAttempt } from "../../src/webhooks/retry-schedule";
import { deliver, JOB_BATCH_SIZE, vaultQueues } from "../support/vault-queues";

afterEach(() => {
  vi.restoreAllMocks();
});

interface Consumer {
  queue: string;
  max_batch_size?: number;
  max_batch_timeout?: number;
  max_retries?: number;
  retry_delay?: number;
  max_concurrency?: number;
  dead_letter_queue?: string;
}

interface QueuesConfig {
  producers: { binding: string; queue: string }[];
  consumers: Consumer[];
}

/** wrangler.jsonc's `queues`; its comments are whole lines (`//` also occurs inside its strings). */
function queuesConfig(): QueuesConfig {
  const json = wranglerConfig
    .split("\n")
    .filter((line) => !line.trim().startsWith("//"))
    .join("\n");
  return (JSON.parse(json) as { queues: QueuesConfig }).queues;
}

function consumerOf(queue: string): Consumer {
  const consumer = queuesConfig().consumers.find((entry) => entry.queue === queue);
  expect(consumer, queue).toBeDefined();
  return consumer!;
}

describe("the queue handler", () => {
  it("refuses a batch from a queue it has no consumer for, so the platform retries it instead of dropping it unread", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);

    await expect(deliver("audit-elsewhere", [{ any: "thing" }], vaultQueues().env)).rejects.toThrow(
      "no consumer for queue audit-elsewhere",
    );
    expect(errors.mock.calls.map(([line]) => JSON.parse(String(line)) as unknown)).toEqual([
      { message: "no consumer for this queue", queue: "audit-elsewhere", messages: 1 },
    ]);
  });
});

describe("wrangler.jsonc's queues", () => {
  it("bind the scan and job queues the code sends to, and consume every vault queue the handler dispatches", () => {
    const { producers, consumers } = queuesConfig();

    expect(producers).toEqual(
      expect.arrayContaining([
        { binding: "VAULT_SCAN_QUEUE", queue: VAULT_QUEUES.scans },
        { binding: "VAULT_JOB_QUEUE", queue: VAULT_QUEUES.jobs },
      ]),
    );
    expect(consumers.map((consumer) => consumer.queue)).toEqual(expect.arrayContaining(Object.values(VAULT_QUEUES)));
  });

  it("set every consumer value of the scan and job queues, dead-lettering both into the vault's dead-letter queue", () => {
    for (const queue of [VAULT_QUEUES.scans, VAULT_QUEUES.jobs]) {
      expect(Object.keys(consumerOf(queue)).sort(), queue).toEqual(
        ["dead_letter_queue", "max_batch_size", "max_batch_timeout", "max_concurrency", "max_retries", "queue", "retry_delay"].sort(),
      );
      expect(consumerOf(queue).dead_letter_queue).toBe(VAULT_QUEUES.deadLetters);
    }
    expect(Object.keys(consumerOf(VAULT_QUEUES.deadLetters)).sort()).toEqual(
      ["max_batch_size", "max_batch_timeout", "max_concurrency", "max_retries", "queue", "retry_delay"].sort(),
    );
  });

  it("retry as often as the dead-letter record says, deliver jobs in batches of the size the tests use, and scan pages one at a time", () => {
    expect(consumerOf(VAULT_QUEUES.scans)).toMatchObject({ max_retries: SCAN_MAX_RETRIES, max_batch_size: 1 });
    expect(consumerOf(VAULT_QUEUES.jobs)).toMatchObject({ max_retries: JOB_MAX_RETRIES, max_batch_size: JOB_BATCH_SIZE });
  });

  it("deliver one expiring connection's job within the 10 s promised after a tick, leaving most of it to the refresh", () => {
    // The first page is delivered at once (a batch of one is full); the job waits at most the jobs' batch timeout.
    expect(consumerOf(VAULT_QUEUES.jobs).max_batch_timeout).toBeLessThanOrEqual(2);
  });
});

describe("wrangler.jsonc's webhook queues", () => {
  const everyValue = ["max_batch_size", "max_batch_timeout", "max_concurrency", "max_retries", "queue", "retry_delay"];

  it("bind the queue events are published to, and consume it and its dead-letter queue with every value set", () => {
    const { producers } = queuesConfig();

    expect(producers).toContainEqual({ binding: "WEBHOOK_QUEUE", queue: WEBHOOK_QUEUES.deliveries });
    expect(Object.keys(consumerOf(WEBHOOK_QUEUES.deliveries)).sort()).toEqual([...everyValue, "dead_letter_queue"].sort());
    expect(consumerOf(WEBHOOK_QUEUES.deliveries).dead_letter_queue).toBe(WEBHOOK_QUEUES.deadLetters);
    expect(Object.keys(consumerOf(WEBHOOK_QUEUES.deadLetters)).sort()).toEqual([...everyValue].sort());
  });

  it("allow more retries than the schedule makes in 24 h, so the consumer, not the platform, ends a delivery", () => {
    let retries = 0;
    for (let now = 0, next = nextAttempt(1, 0, now); next.kind === "retry"; next = nextAttempt(retries + 1, 0, now)) {
      now = next.at;
      retries++;
    }
    expect(retries).toBe(16);
    expect(consumerOf(WEBHOOK_QUEUES.deliveries).max_retries).toBe(DELIVERY_MAX_RETRIES);
    expect(DELIVERY_MAX_RETRIES).toBeGreaterThan(retries);
  });

  it("make a retry's default delay the schedule's first step", () => {
    expect(consumerOf(WEBHOOK_QUEUES.deliveries).retry_delay).toBe(30);
  });
});
