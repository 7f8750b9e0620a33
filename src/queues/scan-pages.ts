/**
 * The consumer of `vault-scans`: reads one page of a scan, queues a job per connection on it, marks those rows so no
 * later scan queues them again while their job waits, and queues the next page when this one was full. A page costs
 * its invocation a handful of subrequests (src/queues/limits.ts), so no invocation's budget bounds how many
 * connections one tick reaches. A page of the webhook secrets' re-encryption rewrites its endpoints itself (no jobs).
 */
import { CRON_ORIGIN } from "../audit/audit-sink";
import { createServices, type Services } from "../services";
import { findConnectionsToReEncrypt, findExpiringConnections, holdForReEncryption, markRefreshEnqueued } from "../storage/connections";
import { findWebhookEndpointsToReEncrypt } from "../storage/webhook-endpoints";
import { reEncryptSecrets, type SecretReEncryptResult } from "../webhooks/re-encryption";
import { RE_ENCRYPTION_HOLD_MS, SCAN_PAGE_SIZE, WEBHOOK_SCAN_PAGE_SIZE } from "./limits";
import {
  enqueueJobs,
  enqueueScanPage,
  scanPageSchema,
  VAULT_QUEUES,
  type ReEncryptionScanPage,
  type RefreshScanPage,
  type ScanPage,
  type VaultJob,
  type WebhookReEncryptionScanPage,
} from "./messages";

interface PageRead {
  /** Jobs queued from the page. */
  jobs: number;
  /** Whether the page was full, and the next one was queued. */
  more: boolean;
  /** What a page of webhook endpoints did to their secrets. */
  webhook_secrets?: Record<SecretReEncryptResult, number>;
}

/**
 * Pages are read one after another; wrangler.jsonc delivers them one per batch. A page that fails is retried by the
 * queue: its jobs may then be queued twice (a duplicate job finds the token fresh), never lost, because rows are
 * marked only after their jobs were queued.
 */
export async function consumeScanPages(batch: MessageBatch, env: Env): Promise<void> {
  for (const message of batch.messages) {
    const started = Date.now();
    const parsed = scanPageSchema.safeParse(message.body);
    if (!parsed.success) {
      // Only this Worker writes the queue; a body it cannot read will not read better on a retry.
      console.error(JSON.stringify({ message: "scan page unreadable; dropped", queue: VAULT_QUEUES.scans, id: message.id }));
      message.ack();
      continue;
    }
    try {
      const services = createServices(env, CRON_ORIGIN);
      const read = await readPage(services, parsed.data);
      await services.audit.flush();
      message.ack();
      console.log(JSON.stringify({ message: `queue.${VAULT_QUEUES.scans}`, kind: parsed.data.kind, ...read, ms: Date.now() - started }));
    } catch (error) {
      message.retry();
      console.error(
        JSON.stringify({
          message: "scan page failed; retried",
          kind: parsed.data.kind,
          attempts: message.attempts,
          error: error instanceof Error ? error.name : "unknown",
        }),
      );
    }
  }
}

function readPage(services: Services, page: ScanPage): Promise<PageRead> {
  switch (page.kind) {
    case "refresh":
      return readRefreshPage(services, page);
    case "re_encrypt":
      return readReEncryptionPage(services, page);
    case "re_encrypt_webhooks":
      return readWebhookReEncryptionPage(services, page);
  }
}

/** Connections due for a proactive refresh in the tick's window (storage/connections.ts `findExpiringConnections`). */
async function readRefreshPage({ db, env }: Services, page: RefreshScanPage): Promise<PageRead> {
  const rows = await findExpiringConnections(db, {
    now: page.now,
    expiringBefore: page.now + page.lookaheadSeconds * 1000,
    after: page.after,
    limit: SCAN_PAGE_SIZE,
  });
  await queueJobs(env, "refresh", rows, (ids) => markRefreshEnqueued(db, ids, page.now));
  const last = rows.at(-1);
  const more = rows.length === SCAN_PAGE_SIZE && last !== undefined;
  // Every row on the page has an expiry: the scan selects by it.
  if (more) await enqueueScanPage(env, { ...page, after: { expiresAt: last.accessTokenExpiresAt!, id: last.id } });
  return { jobs: rows.length, more };
}

/** Connections (or write-ahead copies) still under a key other than the current one, after a key rotation. */
async function readReEncryptionPage({ db, env, cipher }: Services, page: ReEncryptionScanPage): Promise<PageRead> {
  const rows = await findConnectionsToReEncrypt(db, {
    currentKeyId: cipher.currentKeyId,
    now: page.now,
    afterId: page.afterId,
    limit: SCAN_PAGE_SIZE,
  });
  await queueJobs(env, "re_encrypt", rows, (ids) => holdForReEncryption(db, ids, page.now + RE_ENCRYPTION_HOLD_MS));
  const last = rows.at(-1);
  const more = rows.length === SCAN_PAGE_SIZE && last !== undefined;
  if (more) await enqueueScanPage(env, { ...page, afterId: last.id });
  return { jobs: rows.length, more };
}

/**
 * Webhook endpoints whose secrets are still under another key, re-encrypted by the page itself. A page that fails is
 * retried whole: an endpoint it already rewrote is under the current key then, and no longer selected.
 */
async function readWebhookReEncryptionPage(services: Services, page: WebhookReEncryptionScanPage): Promise<PageRead> {
  const rows = await findWebhookEndpointsToReEncrypt(services.db, {
    currentKeyId: services.cipher.currentKeyId,
    afterId: page.afterId,
    limit: WEBHOOK_SCAN_PAGE_SIZE,
  });
  const counts: Record<SecretReEncryptResult, number> = { re_encrypted: 0, conflict: 0, undecryptable: 0 };
  for (const row of rows) counts[await reEncryptSecrets(services, row, page.now)]++;
  if (rows.length > 0) {
    services.audit.record({
      action: "keys.re_encrypted",
      outcome: counts.undecryptable === 0 ? "success" : "failure",
      detail: { target: "webhook_secrets", ...counts, key_id: services.cipher.currentKeyId },
    });
  }
  const last = rows.at(-1);
  const more = rows.length === WEBHOOK_SCAN_PAGE_SIZE && last !== undefined;
  if (more) await enqueueScanPage(services.env, { ...page, afterId: last.id });
  return { jobs: 0, more, webhook_secrets: counts };
}

/** Queues a job of `kind` for each row, then marks the rows with `mark`: a row is marked only once its job is queued. */
async function queueJobs(
  env: Env,
  kind: VaultJob["kind"],
  rows: readonly { id: string; userId: string }[],
  mark: (ids: string[]) => Promise<void>,
): Promise<void> {
  await enqueueJobs(
    env,
    rows.map((row) => ({ kind, userId: row.userId, connectionId: row.id })),
  );
  await mark(rows.map((row) => row.id));
}
