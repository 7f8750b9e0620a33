/**
 * Connection rows as SQL for `wrangler d1 execute --file`: the bench seeds thousands of rows before `wrangler dev`
 * starts, so no second writer touches the local D1 while it runs. The columns come from the Drizzle schema, so the
 * statements follow it as it changes.
 */
import { getTableColumns } from "drizzle-orm";
import type { ConnectionRow } from "../../src/storage/connections";
import { connections } from "../../src/storage/schema";

const ROWS_PER_INSERT = 100;

function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "number") return String(value);
  if (typeof value === "boolean") return value ? "1" : "0";
  return `'${String(value).replaceAll("'", "''")}'`;
}

/** `INSERT INTO connections …` statements, `ROWS_PER_INSERT` rows each. */
export function connectionInserts(rows: readonly ConnectionRow[]): string {
  const columns = Object.entries(getTableColumns(connections)) as [keyof ConnectionRow, { name: string }][];
  const names = columns.map(([, column]) => column.name).join(", ");
  const values = rows.map((row) => `(${columns.map(([key]) => sqlLiteral(row[key])).join(", ")})`);
  const statements: string[] = [];
  for (let start = 0; start < values.length; start += ROWS_PER_INSERT) {
    statements.push(`INSERT INTO connections (${names}) VALUES\n${values.slice(start, start + ROWS_PER_INSERT).join(",\n")};`);
  }
  return statements.join("\n");
}
