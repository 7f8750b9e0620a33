/** A D1 binding that behaves like another and notes the statements it prepares and the batches it sends. */
import { failingDatabase } from "./failing-db";

export interface WatchedDatabase {
  db: D1Database;
  /** The SQL of every statement prepared, in order. */
  statements(): string[];
  /**
   * Calls to D1: one per `batch`, and one per statement prepared but sent outside a batch (drizzle prepares each
   * statement once, then either runs it alone or hands it to a batch).
   */
  roundTrips(): number;
}

export function watchedDatabase(db: D1Database): WatchedDatabase {
  const prepared: string[] = [];
  const batchSizes: number[] = [];
  const watched = failingDatabase(db, {
    prepare: (sql) => {
      prepared.push(String(sql));
      return db.prepare(String(sql));
    },
    batch: (statements) => {
      const batch = statements as D1PreparedStatement[];
      batchSizes.push(batch.length);
      return db.batch(batch);
    },
  });
  return {
    db: watched,
    statements: () => [...prepared],
    roundTrips: () => batchSizes.length + prepared.length - batchSizes.reduce((sum, size) => sum + size, 0),
  };
}

/** The statements among `statements` that write rows of `table`. */
export function writesTo(statements: string[], table: string): string[] {
  return statements.filter((sql) => new RegExp(`^(insert into|update|delete from) "${table}"`, "i").test(sql));
}
