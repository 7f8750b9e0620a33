/**
 * The vault's queues and what travels on them. Messages carry ids, times and cursors only, never a token: a message is
 * stored by the platform, may be delivered more than once, and may end in the dead-letter queue.
 *
 *   `vault-scans`    a page of a scan (`ScanPage`): the cron queues the first page of each scan, each page queues the next
 *                    (a page of webhook endpoints to re-encrypt is done by the page itself, with no jobs)
 *   `vault-jobs`     one job per connection (`VaultJob`), queued by the scan pages
 *   `vault-jobs-dlq` scan pages and jobs that failed every attempt
 */
import { z } from "zod";
import { MAX_MESSAGES_PER_SEND_BATCH } from "./limits";

/** Queue names as wrangler.jsonc declares them; the Worker's queue handler dispatches a batch by its queue's name. */
export const VAULT_QUEUES = {
  scans: "vault-scans",
  jobs: "vault-jobs",
  deadLetters: "vault-jobs-dlq",
} as const;

const time = z.number().int().nonnegative();
const id = z.string().min(1).max(200);

const refreshScanPage = z.object({
  kind: z.literal("refresh"),
  /** The tick's time: the window, the cooldowns and the queued marks of every page of the scan are measured from it. */
  now: time,
  lookaheadSeconds: z.number().int().positive(),
  /** Keyset cursor: the last (expiry, id) of the previous page; `null` on the first. */
  after: z.object({ expiresAt: time, id }).nullable(),
});

const reEncryptionScanPage = z.object({
  kind: z.literal("re_encrypt"),
  now: time,
  /** Keyset cursor: the last id of the previous page; `null` on the first. */
  afterId: id.nullable(),
});

const webhookReEncryptionScanPage = z.object({
  kind: z.literal("re_encrypt_webhooks"),
  /** The tick's time: a previous signing secret whose overlap ended before it is dropped, not re-encrypted. */
  now: time,
  /** Keyset cursor: the last endpoint id of the previous page; `null` on the first. */
  afterId: id.nullable(),
});

export const scanPageSchema = z.discriminatedUnion("kind", [refreshScanPage, reEncryptionScanPage, webhookReEncryptionScanPage]);
export type ScanPage = z.infer<typeof scanPageSchema>;
export type RefreshScanPage = z.infer<typeof refreshScanPage>;
export type ReEncryptionScanPage = z.infer<typeof reEncryptionScanPage>;
export type WebhookReEncryptionScanPage = z.infer<typeof webhookReEncryptionScanPage>;

export const vaultJobSchema = z.object({
  kind: z.enum(["refresh", "re_encrypt"]),
  userId: id,
  connectionId: id,
});
export type VaultJob = z.infer<typeof vaultJobSchema>;

/** Queues a scan page. */
export async function enqueueScanPage(env: Env, page: ScanPage): Promise<void> {
  await env.VAULT_SCAN_QUEUE.send(page);
}

/** Queues jobs, as many per call as the platform takes. */
export async function enqueueJobs(env: Env, jobs: readonly VaultJob[]): Promise<void> {
  for (let start = 0; start < jobs.length; start += MAX_MESSAGES_PER_SEND_BATCH) {
    await env.VAULT_JOB_QUEUE.sendBatch(jobs.slice(start, start + MAX_MESSAGES_PER_SEND_BATCH).map((job) => ({ body: job })));
  }
}
