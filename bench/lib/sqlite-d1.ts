/**
 * A D1 binding over Node's built-in SQLite (`node:sqlite`), for running the service's hot path in Node: the same SQL
 * runs against the same engine in this process, without the platform's round trip. Only what Drizzle's D1 driver
 * and the bench's Workers call: `prepare().bind()` with `first`, `all`, `raw`, `run`, and `batch`.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";

const META = { duration: 0, size_after: 0, rows_read: 0, rows_written: 0, last_row_id: 0, changed_db: false, changes: 0 };

/** SQLite's compiled statements, one per SQL text and row shape, as D1 keeps them between queries. */
class Statements {
  readonly #compiled = new Map<string, StatementSync>();

  constructor(readonly db: DatabaseSync) {}

  get(query: string, rowsAsArrays = false): StatementSync {
    const key = `${rowsAsArrays ? "arrays" : "objects"}:${query}`;
    let statement = this.#compiled.get(key);
    if (!statement) {
      statement = this.db.prepare(query);
      statement.setReturnArrays(rowsAsArrays);
      this.#compiled.set(key, statement);
    }
    return statement;
  }
}

class SqliteStatement {
  constructor(
    private readonly statements: Statements,
    readonly query: string,
    private readonly params: SQLInputValue[] = [],
  ) {}

  bind(...params: unknown[]): SqliteStatement {
    return new SqliteStatement(this.statements, this.query, params as SQLInputValue[]);
  }

  async first<T>(column?: string): Promise<T | null> {
    const row = this.statements.get(this.query).get(...this.params) as Record<string, unknown> | undefined;
    if (!row) return null;
    return (column === undefined ? { ...row } : row[column]) as T;
  }

  async all<T>(): Promise<{ results: T[]; success: true; meta: typeof META }> {
    const rows = this.statements.get(this.query).all(...this.params);
    return { results: rows.map((row) => ({ ...row })) as T[], success: true, meta: META };
  }

  async raw<T extends unknown[]>(): Promise<T[]> {
    return this.statements.get(this.query, true).all(...this.params) as unknown as T[];
  }

  async run(): Promise<{ results: []; success: true; meta: typeof META }> {
    this.statements.get(this.query).run(...this.params);
    return { results: [], success: true, meta: META };
  }
}

/** A D1Database backed by an in-memory SQLite database, after running `setupSql` (migrations, seed rows). */
export function sqliteD1(setupSql: string): D1Database {
  const db = new DatabaseSync(":memory:");
  db.exec(setupSql);
  const statements = new Statements(db);
  return {
    prepare: (query: string) => new SqliteStatement(statements, query),
    // D1 runs a batch as one transaction; the results are each statement's `all()`.
    batch: async (statements: SqliteStatement[]) => {
      db.exec("BEGIN");
      try {
        const results = [];
        for (const statement of statements) results.push(await statement.all());
        db.exec("COMMIT");
        return results;
      } catch (error) {
        db.exec("ROLLBACK");
        throw error;
      }
    },
  } as unknown as D1Database;
}
