import { randomId } from "../crypto/random";
import type { Database } from "./database";
import { consents, type ConsentRow } from "./schema";

export type ConsentKind = ConsentRow["kind"];

export type NewConsent = Omit<ConsentRow, "id">;

/** Appends to the consent history; rows are never updated or deleted. */
export async function recordConsent(db: Database, consent: NewConsent): Promise<void> {
  await db.insert(consents).values({ ...consent, id: randomId("cns_") });
}
