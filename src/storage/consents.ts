import { and, desc, eq, lt, or } from "drizzle-orm";
import { randomId } from "../crypto/random";
import type { Database } from "./database";
import type { PagePosition } from "./pages";
import { consents, type ConsentRow } from "./schema";

export type ConsentKind = ConsentRow["kind"];

export type NewConsent = Omit<ConsentRow, "id">;

/** Where a consent change came from: the browser's or backend's address and user agent, when known. */
export type ConsentClient = Pick<ConsentRow, "ip" | "userAgent">;

/** Appends to the consent history; rows are never updated or deleted. */
export async function recordConsent(db: Database, consent: NewConsent): Promise<void> {
  await db.insert(consents).values({ ...consent, id: randomId("cns_") });
}

/** One page of a user's consent history, newest first. */
export async function listConsents(
  db: Database,
  { userId, before, limit }: { userId: string; before: PagePosition | null; limit: number },
): Promise<ConsentRow[]> {
  return db
    .select()
    .from(consents)
    .where(
      and(
        eq(consents.userId, userId),
        before ? or(lt(consents.createdAt, before.at), and(eq(consents.createdAt, before.at), lt(consents.id, before.id))) : undefined,
      ),
    )
    .orderBy(desc(consents.createdAt), desc(consents.id))
    .limit(limit);
}
