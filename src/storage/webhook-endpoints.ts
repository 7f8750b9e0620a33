import { and, asc, eq } from "drizzle-orm";
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
