import { and, desc, eq, gte, lt, or } from "drizzle-orm";
import type { Database } from "./database";
import type { PagePosition } from "./pages";
import { auditEvents, type AuditEventRow } from "./schema";

/** Detail values are codes and counts only: never a secret, token or provider message. */
export type AuditDetail = Record<string, string | number | boolean | null>;

/** An event as stored. Its id is made when the event is recorded, so writing it a second time changes nothing. */
export interface AuditEventRecord {
  id: string;
  at: number;
  userId: string | null;
  actor: string;
  action: string;
  provider: string | null;
  connectionId: string | null;
  outcome: "success" | "failure";
  requestId: string | null;
  ip: string | null;
  detail: AuditDetail;
}

/** D1 caps bound parameters per statement at 100; 11 columns a row leaves room for 9 rows. */
const ROWS_PER_INSERT = 9;

/**
 * Writes events in one D1 round trip: one `db.batch` of inserts of up to 9 rows each (100 events are 12 statements,
 * not one statement nor 100). An id already written is skipped, not refused: a queue delivers its messages at least
 * once, and a redelivered event must neither fail its batch nor appear twice.
 */
export async function insertAuditEvents(db: Database, events: readonly AuditEventRecord[]): Promise<void> {
  const rows = events.map((event) => ({ ...event, detail: JSON.stringify(event.detail) }));
  const statements = [];
  for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
    statements.push(
      db
        .insert(auditEvents)
        .values(rows.slice(start, start + ROWS_PER_INSERT))
        .onConflictDoNothing({ target: auditEvents.id }),
    );
  }
  const [first, ...rest] = statements;
  if (first) await db.batch([first, ...rest]);
}

export interface AuditQuery {
  /** Absent: every user's events (admin views). */
  userId?: string;
  action?: string;
  since?: number;
  until?: number;
  before: PagePosition | null;
  limit: number;
}

/** One page of audit events, newest first. */
export async function listAuditEvents(db: Database, query: AuditQuery): Promise<AuditEventRow[]> {
  const { before } = query;
  return db
    .select()
    .from(auditEvents)
    .where(
      and(
        query.userId === undefined ? undefined : eq(auditEvents.userId, query.userId),
        query.action === undefined ? undefined : eq(auditEvents.action, query.action),
        query.since === undefined ? undefined : gte(auditEvents.at, query.since),
        query.until === undefined ? undefined : lt(auditEvents.at, query.until),
        before ? or(lt(auditEvents.at, before.at), and(eq(auditEvents.at, before.at), lt(auditEvents.id, before.id))) : undefined,
      ),
    )
    .orderBy(desc(auditEvents.at), desc(auditEvents.id))
    .limit(query.limit);
}
