import { sql } from "drizzle-orm";
import type { Database } from "../storage/database";
import { pruneWebhookDeliveries } from "../storage/webhook-deliveries";
import { deleteInBatches, retentionCutoff } from "./retention";

/** Deletes audit events older than the retention period, in bounded batches; returns how many went. */
export async function pruneAuditEvents(db: Database, { now, retentionDays }: { now: number; retentionDays: number }): Promise<number> {
  const cutoff = retentionCutoff(now, retentionDays);
  return deleteInBatches(async (batch) => {
    const result = await db.run(
      sql`DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < ${cutoff} LIMIT ${batch})`,
    );
    return result.meta.changes;
  });
}

/** Deletes webhook delivery attempts older than the audit trail's retention period, alike; returns how many went. */
export async function pruneDeliveryLog(db: Database, { now, retentionDays }: { now: number; retentionDays: number }): Promise<number> {
  const cutoff = retentionCutoff(now, retentionDays);
  return deleteInBatches((batch) => pruneWebhookDeliveries(db, { cutoff, batch }));
}
