/**
 * Bounds of one consumer invocation. The Workers platform limits apply to each invocation, and `wrangler dev` enforces
 * neither: at most 6 outgoing connections open at once (a seventh waits), and at most 1,000 subrequests (paid plan;
 * each Durable Object call, D1 query and queue send is one). Queues add their own: at most 100 messages per
 * `sendBatch` call (and 256 KB), and a retry's delay of at most 24 hours (12 in older documentation).
 */

/**
 * Connections one scan page reads and queues. One page costs its invocation one D1 read, 2 `sendBatch` calls, one D1
 * batch marking the rows and one send of the next page: 5 subrequests, and a page of small rows (ids and an expiry).
 */
export const SCAN_PAGE_SIZE = 200;

/**
 * Webhook endpoints one page re-encrypts itself (src/webhooks/re-encryption.ts): one D1 read, a D1 write per endpoint
 * and the send of the next page, 52 subrequests. A deployment has a handful of endpoints; one page is the usual scan.
 */
export const WEBHOOK_SCAN_PAGE_SIZE = 50;

/** The platform's most messages per `sendBatch` call (Queues limits). */
export const MAX_MESSAGES_PER_SEND_BATCH = 100;

/**
 * Jobs of one batch run at once: the platform's 6 simultaneous outgoing connections per invocation. A batch of 100
 * (wrangler.jsonc) makes 100 Durable Object calls, a tenth of the subrequest budget.
 */
export const JOB_CONCURRENCY = 6;

/** A retry's delay is capped below the platform's bound; cooldowns never exceed an hour (vault/refresh-policy.ts). */
export const MAX_RETRY_DELAY_SECONDS = 43_200;

/**
 * How long the re-encryption scan passes a row by once it queued a job for it, unless the re-encryption clears it
 * first: longer than the job can stay queued with its retries (`vault-jobs`: 4 retries, 30 s apart).
 */
export const RE_ENCRYPTION_HOLD_MS = 10 * 60_000;

/**
 * `max_retries` of the consumers in wrangler.jsonc, for the dead-letter record (a message arrives in the dead-letter
 * queue as a new delivery; its attempts in the queue it died in are these plus the first).
 */
export const SCAN_MAX_RETRIES = 3;
export const JOB_MAX_RETRIES = 4;
