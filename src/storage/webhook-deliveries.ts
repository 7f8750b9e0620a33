import { and, desc, eq, lt, or, sql } from "drizzle-orm";
import type { Database } from "./database";
import type { PagePosition } from "./pages";
import { webhookDeliveries, type WebhookDeliveryRow } from "./schema";

export type { WebhookDeliveryRow };

/** Records one delivery attempt. */
export async function recordWebhookDelivery(db: Database, row: WebhookDeliveryRow): Promise<void> {
  await db.insert(webhookDeliveries).values(row);
}

/** One page of an endpoint's delivery attempts, newest first. */
export async function listWebhookDeliveries(
  db: Database,
  { endpointId, before, limit }: { endpointId: string; before: PagePosition | null; limit: number },
): Promise<WebhookDeliveryRow[]> {
  return db
    .select()
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.endpointId, endpointId),
        before
          ? or(lt(webhookDeliveries.at, before.at), and(eq(webhookDeliveries.at, before.at), lt(webhookDeliveries.id, before.id)))
          : undefined,
      ),
    )
    .orderBy(desc(webhookDeliveries.at), desc(webhookDeliveries.id))
    .limit(limit);
}

/** Deletes up to `batch` attempts older than `cutoff`; returns how many went (retention, like the audit trail). */
export async function pruneWebhookDeliveries(db: Database, { cutoff, batch }: { cutoff: number; batch: number }): Promise<number> {
  const result = await db.run(
    sql`DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries WHERE at < ${cutoff} LIMIT ${batch})`,
  );
  return result.meta.changes;
}
