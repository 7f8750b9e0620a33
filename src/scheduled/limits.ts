/**
 * Bounds of the cron's own work per invocation. The cron no longer refreshes or re-encrypts: it queues the first page
 * of each scan (src/queues/), whose consumers keep their own invocations inside the platform's limits. Retention
 * (the audit trail, the webhook delivery log: each a task of its own) deletes in batches so that one run stays far
 * inside the subrequest budget (1,000 on the paid plan; each D1 query is one); what a run leaves, the next run (5
 * minutes later) deletes.
 */
export const MAX_AUDIT_DELETE_BATCHES_PER_RUN = 20;
export const AUDIT_DELETE_BATCH = 1000;
