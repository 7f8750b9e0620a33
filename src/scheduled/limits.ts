/**
 * Per-invocation bounds of the cron (Workers platform limits that `wrangler dev` does not enforce):
 * at most 6 simultaneous outgoing connections, and a bounded number of subrequests (each Durable Object call
 * and D1 query is one; 1,000 on the paid plan). What a run leaves undone, the next run (5 minutes later) picks up.
 */
export const CRON_CONCURRENCY = 6;
export const CRON_PAGE_SIZE = 50;
export const MAX_REFRESHES_PER_RUN = 300;
export const MAX_RE_ENCRYPTIONS_PER_RUN = 200;
export const MAX_AUDIT_DELETE_BATCHES_PER_RUN = 20;
export const AUDIT_DELETE_BATCH = 1000;
