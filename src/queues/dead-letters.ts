/**
 * The consumer of `vault-jobs-dlq`: records each scan page or job that failed every attempt, as an audit event
 * (`vault.job_dead_lettered`, with the user and connection of a job) and a log line, then lets it go. Nothing is
 * retried from here: a connection whose job died is queued again by a later scan, once its look-ahead window (or its
 * re-encryption hold) has passed.
 */
import { CRON_ORIGIN } from "../audit/audit-sink";
import { createServices } from "../services";
import { JOB_MAX_RETRIES, SCAN_MAX_RETRIES } from "./limits";
import { scanPageSchema, VAULT_QUEUES, vaultJobSchema } from "./messages";

interface DeadLetter {
  /** A job's kind, a scan's (`refresh_scan`, `re_encrypt_scan`), or `unreadable`. */
  job: string;
  userId: string | null;
  connectionId: string | null;
  /** Attempts in the queue it died in (the dead-letter queue delivers it afresh, so its own count starts again). */
  attempts: number | null;
}

/** What died, read from the message as far as it can be; never the body itself. */
function describe(body: unknown): DeadLetter {
  const job = vaultJobSchema.safeParse(body);
  if (job.success) {
    return { job: job.data.kind, userId: job.data.userId, connectionId: job.data.connectionId, attempts: JOB_MAX_RETRIES + 1 };
  }
  const page = scanPageSchema.safeParse(body);
  if (page.success) return { job: `${page.data.kind}_scan`, userId: null, connectionId: null, attempts: SCAN_MAX_RETRIES + 1 };
  return { job: "unreadable", userId: null, connectionId: null, attempts: null };
}

export async function recordDeadLetters(batch: MessageBatch, env: Env): Promise<void> {
  const services = createServices(env, CRON_ORIGIN);
  for (const message of batch.messages) {
    const dead = describe(message.body);
    services.audit.record({
      action: "vault.job_dead_lettered",
      outcome: "failure",
      userId: dead.userId,
      connectionId: dead.connectionId,
      detail: { job: dead.job, attempts: dead.attempts },
    });
    console.error(
      JSON.stringify({
        message: "vault job dead-lettered",
        queue: VAULT_QUEUES.deadLetters,
        job: dead.job,
        connectionId: dead.connectionId,
        attempts: dead.attempts,
      }),
    );
  }
  // The sink logs a failed write instead of throwing: the log lines above stay the record then.
  await services.audit.flush();
  batch.ackAll();
}
