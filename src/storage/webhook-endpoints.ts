import { and, asc, count, eq, gt, isNull, ne, or, sql } from "drizzle-orm";
import type { Database } from "./database";
import { webhookEndpoints, type WebhookEndpointRow } from "./schema";

export type { WebhookEndpointRow };

export async function insertWebhookEndpoint(db: Database, row: WebhookEndpointRow): Promise<void> {
  await db.insert(webhookEndpoints).values(row);
}

/** Every endpoint, oldest first (an operator's list; a deployment has few). */
export async function listWebhookEndpoints(db: Database): Promise<WebhookEndpointRow[]> {
  return db.select().from(webhookEndpoints).orderBy(asc(webhookEndpoints.createdAt), asc(webhookEndpoints.id));
}

export async function findWebhookEndpoint(db: Database, id: string): Promise<WebhookEndpointRow | null> {
  return (await db.query.webhookEndpoints.findFirst({ where: eq(webhookEndpoints.id, id) })) ?? null;
}

export type WebhookEndpointUpdate = Partial<Omit<WebhookEndpointRow, "id" | "createdAt" | "version">>;

/** Updates an endpoint only if its version is still `expectedVersion` (compare-and-swap), bumping the version. */
export async function updateWebhookEndpoint(
  db: Database,
  { id, expectedVersion }: { id: string; expectedVersion: number },
  update: WebhookEndpointUpdate,
): Promise<boolean> {
  const updated = await db
    .update(webhookEndpoints)
    .set({ ...update, version: expectedVersion + 1 })
    .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.version, expectedVersion)))
    .returning({ id: webhookEndpoints.id });
  return updated.length === 1;
}

/** Removes an endpoint; false when it was not there. Its delivery log goes with the retention pruning. */
export async function deleteWebhookEndpoint(db: Database, id: string): Promise<boolean> {
  const deleted = await db.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id)).returning({ id: webhookEndpoints.id });
  return deleted.length === 1;
}

/**
 * The enabled endpoints that receive events of `type`: those whose `events` list it, and those without a list (every
 * type). A deployment has few endpoints; the list is read whole.
 */
export async function findSubscribedWebhookEndpoints(db: Database, type: string): Promise<WebhookEndpointRow[]> {
  return db
    .select()
    .from(webhookEndpoints)
    .where(
      and(
        eq(webhookEndpoints.enabled, true),
        or(isNull(webhookEndpoints.events), sql`EXISTS (SELECT 1 FROM json_each(${webhookEndpoints.events}) WHERE value = ${type})`),
      ),
    )
    .orderBy(asc(webhookEndpoints.createdAt), asc(webhookEndpoints.id));
}

/** How many endpoints have their secrets under each key id (key rotation progress). */
export async function countWebhookEndpointsByKey(db: Database): Promise<Map<string, number>> {
  const rows = await db.select({ keyId: webhookEndpoints.keyId, count: count() }).from(webhookEndpoints).groupBy(webhookEndpoints.keyId);
  return new Map(rows.map((row) => [row.keyId, row.count]));
}

/** A page of endpoints whose secrets are under a key other than `currentKeyId`, in id order (the re-encryption scan). */
export async function findWebhookEndpointsToReEncrypt(
  db: Database,
  { currentKeyId, afterId, limit }: { currentKeyId: string; afterId: string | null; limit: number },
): Promise<WebhookEndpointRow[]> {
  return db
    .select()
    .from(webhookEndpoints)
    .where(and(ne(webhookEndpoints.keyId, currentKeyId), afterId === null ? undefined : gt(webhookEndpoints.id, afterId)))
    .orderBy(asc(webhookEndpoints.id))
    .limit(limit);
}
