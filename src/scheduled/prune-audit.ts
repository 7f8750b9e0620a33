import { sql } from "drizzle-orm";
import type { Database } from "../storage/database";
import { AUDIT_DELETE_BATCH, MAX_AUDIT_DELETE_BATCHES_PER_RUN } from "./limits";

/** Deletes audit events older than the retention period, in bounded batches; returns how many went. */
export async function pruneAuditEvents(db: Database, { now, retentionDays }: { now: number; retentionDays: number }): Promise<number> {
  const cutoff = now - retentionDays * 86_400_000;
  let deleted = 0;
  for (let batch = 0; batch < MAX_AUDIT_DELETE_BATCHES_PER_RUN; batch++) {
    const result = await db.run(
      sql`DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < ${cutoff} LIMIT ${AUDIT_DELETE_BATCH})`,
    );
    const changes = result.meta.changes;
    deleted += changes;
    if (changes < AUDIT_DELETE_BATCH) break;
  }
  return deleted;
}
