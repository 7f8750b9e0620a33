import { insertAuditEvents, type NewAuditEvent } from "../storage/audit-events";
import type { Database } from "../storage/database";

/**
 * Audit events that must not delay the response (token vends). Events from all requests of the isolate are
 * queued and written in batches after the responses: while one batch is being written, the next accumulates.
 */
const queued: NewAuditEvent[] = [];
let writing: Promise<void> | null = null;

async function drain(db: Database): Promise<void> {
  try {
    while (queued.length > 0) {
      const batch = queued.splice(0, 90);
      await insertAuditEvents(db, batch).catch((error: unknown) => {
        console.error(
          JSON.stringify({
            message: "deferred audit write failed",
            events: batch.length,
            error: error instanceof Error ? error.name : "unknown",
          }),
        );
      });
    }
  } finally {
    writing = null;
  }
}

/** Queues `event`; the write runs past the response through `waitUntil`. */
export function auditAfterResponse(db: Database, context: Pick<ExecutionContext, "waitUntil">, event: NewAuditEvent): void {
  queued.push(event);
  if (writing === null) {
    writing = drain(db);
    context.waitUntil(writing);
  }
}
