/**
 * The audit queue (wrangler.jsonc, "queues"): `token.vended` events leave the hot path as one message each, sent
 * after the response, and its consumer writes each batch in one D1 round trip. The queue holds an event from the
 * send until a write succeeded, so nothing is kept in an isolate's memory and an evicted isolate loses nothing.
 */
import { z } from "zod";
import { insertAuditEvents, type AuditEventRecord } from "../storage/audit-events";
import { database } from "../storage/database";

/** The queue the hot path's events travel through (`queues.consumers[].queue` in wrangler.jsonc). */
export const AUDIT_EVENTS_QUEUE = "audit-events";
/** Where the platform moves a message once its batch failed every attempt (`dead_letter_queue`). */
export const DEAD_AUDIT_EVENTS_QUEUE = "audit-events-dlq";

/**
 * A message's body: one event with the id it was recorded with. Checked on arrival because a message may have been
 * sent by an earlier deployment, and one row D1 refuses would fail every event of its batch.
 */
const QueuedAuditEvent = z.strictObject({
  id: z.string().startsWith("evt_"),
  at: z.number().int().nonnegative(),
  userId: z.string().nullable(),
  actor: z.string(),
  action: z.string(),
  provider: z.string().nullable(),
  connectionId: z.string().nullable(),
  outcome: z.enum(["success", "failure"]),
  requestId: z.string().nullable(),
  ip: z.string().nullable(),
  detail: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
}) satisfies z.ZodType<AuditEventRecord>;

/** Sends events to the audit queue, one message each (a request records one vend; a batch holds up to 100). */
export async function sendAuditEvents(queue: Queue, events: readonly AuditEventRecord[]): Promise<void> {
  // JSON rather than the default structured clone: the dashboard and `wrangler queues` can show a JSON message.
  await queue.sendBatch(events.map((event) => ({ body: event, contentType: "json" as const })));
}

/**
 * The `audit-events` consumer: the batch's events in one `db.batch`. A failed write retries the whole batch after
 * the queue's `retry_delay`; the events' ids make the events a failed attempt did write harmless the second time.
 */
export const consumeAuditEvents: ExportedHandlerQueueHandler<Env> = async (batch, env) => {
  const events = wellFormedEvents(batch);
  try {
    await insertAuditEvents(database(env.DB), events);
  } catch (error) {
    console.error(
      JSON.stringify({
        message: "audit events not written; the batch will be retried",
        events: events.length,
        attempts: Math.max(...batch.messages.map((message) => message.attempts)),
        error: errorName(error),
      }),
    );
    batch.retryAll();
  }
};

/**
 * The `audit-events-dlq` consumer: events whose batch failed every attempt, when D1 stayed unavailable longer than
 * the retries last. They are valid events, so they are written once more (a late row beats a gap in the trail, and
 * an id already written is skipped); if that fails too, each is logged in full, which makes the log the record
 * to replay from, and the batch is settled rather than retried: there is no queue behind this one.
 */
export const consumeDeadAuditEvents: ExportedHandlerQueueHandler<Env> = async (batch, env) => {
  const events = wellFormedEvents(batch);
  try {
    await insertAuditEvents(database(env.DB), events);
    console.warn(JSON.stringify({ message: "dead-lettered audit events written late", events: events.length }));
  } catch (error) {
    for (const event of events) console.error(JSON.stringify({ message: "dead-lettered audit event not written", event }));
    console.error(JSON.stringify({ message: "dead-lettered audit events not written", events: events.length, error: errorName(error) }));
  }
};

/** The batch's events; a malformed message is logged by id and the paths of what is wrong (never its values). */
function wellFormedEvents(batch: MessageBatch): AuditEventRecord[] {
  const events: AuditEventRecord[] = [];
  for (const message of batch.messages) {
    const parsed = QueuedAuditEvent.safeParse(message.body);
    if (parsed.success) events.push(parsed.data);
    else
      console.error(
        JSON.stringify({
          message: "malformed audit event message skipped",
          queue: batch.queue,
          id: message.id,
          fields: parsed.error.issues.map((issue) => issue.path.join(".")),
        }),
      );
  }
  return events;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
