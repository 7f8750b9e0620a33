import { and, eq } from "drizzle-orm";
import type { Database } from "./database";
import { integrationActivations, type IntegrationActivationRow } from "./schema";

export type { IntegrationActivationRow };

export async function listActivations(db: Database, { userId }: { userId: string }): Promise<IntegrationActivationRow[]> {
  return db.select().from(integrationActivations).where(eq(integrationActivations.userId, userId));
}

/** Records that the user wants `integration`, on `connectionId` (null until the authorization creates it). */
export async function saveActivation(
  db: Database,
  { userId, integration, connectionId, now }: { userId: string; integration: string; connectionId: string | null; now: number },
): Promise<void> {
  await db
    .insert(integrationActivations)
    .values({ userId, integration, connectionId, createdAt: now, updatedAt: now })
    .onConflictDoUpdate({
      target: [integrationActivations.userId, integrationActivations.integration],
      set: { connectionId, updatedAt: now },
    });
}

/** Removes one activation; false when there was none. */
export async function deleteActivation(db: Database, { userId, integration }: { userId: string; integration: string }): Promise<boolean> {
  const deleted = await db
    .delete(integrationActivations)
    .where(and(eq(integrationActivations.userId, userId), eq(integrationActivations.integration, integration)))
    .returning({ integration: integrationActivations.integration });
  return deleted.length === 1;
}

/** Removes the activations that use a connection (it is being removed); returns their integration keys. */
export async function deleteActivationsOfConnection(
  db: Database,
  { userId, connectionId }: { userId: string; connectionId: string },
): Promise<string[]> {
  const deleted = await db
    .delete(integrationActivations)
    .where(and(eq(integrationActivations.userId, userId), eq(integrationActivations.connectionId, connectionId)))
    .returning({ integration: integrationActivations.integration });
  return deleted.map((row) => row.integration);
}

/** Removes every activation of a user (erasure); returns their integration keys. */
export async function deleteActivationsOfUser(db: Database, { userId }: { userId: string }): Promise<string[]> {
  const deleted = await db
    .delete(integrationActivations)
    .where(eq(integrationActivations.userId, userId))
    .returning({ integration: integrationActivations.integration });
  return deleted.map((row) => row.integration);
}
