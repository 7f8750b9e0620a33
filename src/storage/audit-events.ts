import { randomId } from "../crypto/random";
import type { Database } from "./database";
import { auditEvents } from "./schema";

/** Detail values are codes and counts only: never a secret, token or provider message. */
export type AuditDetail = Record<string, string | number | boolean | null>;

export interface NewAuditEvent {
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

export async function insertAuditEvents(db: Database, events: readonly NewAuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  const rows = events.map((event) => ({ ...event, id: randomId("evt_"), detail: JSON.stringify(event.detail) }));
  const statements = [];
  for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
    statements.push(db.insert(auditEvents).values(rows.slice(start, start + ROWS_PER_INSERT)));
  }
  const [first, ...rest] = statements;
  if (first) await db.batch([first, ...rest]);
}
