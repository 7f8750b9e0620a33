/**
 * Bytes per stored row, measured (docs/scaling.md, "Storage"): `npx tsx scripts/measure-storage.ts [rows]`.
 *
 * For each profile: a fresh local D1 (`wrangler d1 migrations apply` and `wrangler d1 execute --local --persist-to
 * <tmp> --file`, as the bench seeds it), `rows` rows inserted (default 10,000), then the SQLite file's pages counted
 * per table and index (`dbstat`, after a WAL checkpoint: local D1 refuses `PRAGMA page_count` itself) and the
 * average length of each column read back through D1 with `length()`. Connection rows are built as the tests and the
 * bench build them (test/support/connection-rows.ts, bench/lib/seed-sql.ts), tokens encrypted by the service's cipher.
 * Prints Markdown; removes its temp dir.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { gzipSync } from "node:zlib";
import { getTableColumns, type Table } from "drizzle-orm";
import { connectionInserts } from "../bench/lib/seed-sql";
import { getConfig } from "../src/config";
import { getTokenCipher } from "../src/crypto/token-cipher";
import { randomId, randomToken } from "../src/crypto/random";
import { auditEvents, connections } from "../src/storage/schema";
import { testBindings } from "../test/support/bindings";
import { connectionRow, type ConnectionRowOptions } from "../test/support/connection-rows";
import { runWrangler } from "../test/support/wrangler";

const ROWS = Number(process.argv[2] ?? 10_000);
if (!Number.isInteger(ROWS) || ROWS < 1) {
  console.error("usage: npx tsx scripts/measure-storage.ts [rows]   (rows: a positive integer, default 10000)");
  process.exit(1);
}
/** Seeding thousands of rows on a loaded 2-core machine takes minutes. */
const WRANGLER_TIMEOUT_MS = 600_000;
/** D1 allows SQL statements of up to 100 KB; the seed's statements carry their values inline. */
const MAX_STATEMENT_CHARS = 90_000;
/** Rows per `INSERT` of audit events (about 250 characters each). */
const AUDIT_ROWS_PER_INSERT = 100;

const work = mkdtempSync(path.join(tmpdir(), "ocm-storage-"));
// The tests' key ring: only the ciphertexts' lengths matter here, and they do not depend on the key.
const cipher = getTokenCipher(
  getConfig(testBindings({ mockProviderOrigin: "http://127.0.0.1:9", oidcIssuer: "http://127.0.0.1:9/oidc" })).encryptionKeys,
);
const now = Date.now();

/** `n` characters of base64url, the alphabet of the tokens they stand in for. */
function tokenOfLength(prefix: string, n: number): string {
  let body = "";
  while (body.length < n - prefix.length) body += randomToken(48);
  return `${prefix}${body}`.slice(0, n);
}

/** The bench's cron rows (bench/run.ts): 10 connections per user, short tokens, sequential ids. */
function benchRow(i: number): ConnectionRowOptions {
  const id = `conn_bench_cron_${String(i).padStart(5, "0")}`;
  return {
    id,
    userId: `bench-cron-${i % Math.ceil(ROWS / 10)}`,
    accountEmail: `${id}@example.com`,
    accessToken: `ya29.cron-${i}`,
    refreshToken: `rt-cron-${i}`,
    expiresAt: now + 60_000 + i,
    now,
  };
}

/**
 * A Google connection as the service stores it, with ids in the shapes the service and Google give them and tokens of
 * `accessChars` / `refreshChars` characters (Google documents at most 2,048 and 512 bytes). Random ids, so the indexes
 * fill as they do when rows arrive one by one.
 */
function productionRow(accessChars: number, refreshChars: number): () => ConnectionRowOptions {
  return () => {
    const sub = String(100_000_000_000_000_000_000n + BigInt(Math.floor(Math.random() * 1e15)));
    return {
      id: randomId("conn_"),
      userId: crypto.randomUUID(),
      accountId: sub,
      accountEmail: `${randomToken(9).toLowerCase()}@gmail.com`,
      accessToken: tokenOfLength("ya29.", accessChars),
      refreshToken: tokenOfLength("1//", refreshChars),
      scopes: "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/calendar.events",
      expiresAt: now + 3_599_000,
      issuedAt: now,
      now,
    };
  };
}

function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "number") return String(value);
  return `'${String(value).replaceAll("'", "''")}'`;
}

type AuditRow = typeof auditEvents.$inferInsert;

/** A `token.vended` event as the audit sink writes it for a vend answered from the stored token. */
function vendedEvent(i: number): AuditRow {
  return {
    id: randomId("evt_"),
    at: now + i,
    userId: crypto.randomUUID(),
    actor: "backend",
    action: "token.vended",
    provider: "google",
    connectionId: randomId("conn_"),
    outcome: "success",
    requestId: crypto.randomUUID(),
    ip: `203.0.${(i >> 8) & 255}.${i & 255}`,
    detail: JSON.stringify({ refreshed: false }),
  };
}

/** A `token.refreshed` event as the user's Durable Object writes it for a refresh the cron asked for. */
function refreshedEvent(i: number): AuditRow {
  return {
    ...vendedEvent(i),
    actor: "cron",
    action: "token.refreshed",
    requestId: null,
    ip: null,
    detail: JSON.stringify({ trigger: "cron", rotated: false }),
  };
}

function auditInserts(events: readonly AuditRow[]): string {
  const columns = Object.entries(getTableColumns(auditEvents)) as [keyof AuditRow, { name: string }][];
  const names = columns.map(([, column]) => column.name).join(", ");
  const values = events.map((event) => `(${columns.map(([key]) => sqlLiteral(event[key])).join(", ")})`);
  const statements: string[] = [];
  for (let start = 0; start < values.length; start += AUDIT_ROWS_PER_INSERT) {
    statements.push(`INSERT INTO audit_events (${names}) VALUES\n${values.slice(start, start + AUDIT_ROWS_PER_INSERT).join(",\n")};`);
  }
  return statements.join("\n");
}

/** The same events as gzipped NDJSON, the shape of an archive written in batches to object storage. */
function gzippedNdjsonBytes(events: readonly AuditRow[]): number {
  return gzipSync(events.map((event) => JSON.stringify(event)).join("\n"), { level: 6 }).length;
}

interface Profile {
  name: string;
  table: "connections" | "audit_events";
  seedSql: () => Promise<string>;
  /** A further line for the report. */
  note?: () => string;
}

function auditProfile(action: string, event: (i: number) => AuditRow): Profile {
  const events = Array.from({ length: ROWS }, (_, i) => event(i));
  return {
    name: `audit_events, \`${action}\``,
    table: "audit_events",
    seedSql: async () => auditInserts(events),
    note: () => `The same events as gzipped NDJSON: ${(gzippedNdjsonBytes(events) / ROWS).toFixed(0)} bytes per event.`,
  };
}

/** The bench's `INSERT`s, in slices small enough that a statement of rows with long tokens stays within D1's limit. */
async function connectionSeed(row: (i: number) => ConnectionRowOptions): Promise<string> {
  const rows = await Promise.all(Array.from({ length: ROWS }, (_, i) => connectionRow(cipher, row(i))));
  const perStatement = Math.max(1, Math.floor(MAX_STATEMENT_CHARS / connectionInserts(rows.slice(0, 1)).length));
  const statements: string[] = [];
  for (let start = 0; start < rows.length; start += perStatement)
    statements.push(connectionInserts(rows.slice(start, start + perStatement)));
  return statements.join("\n");
}

const connectionProfile = (name: string, row: (i: number) => ConnectionRowOptions): Profile => ({
  name,
  table: "connections",
  seedSql: () => connectionSeed(row),
});

const PROFILES: Profile[] = [
  connectionProfile("connections, bench rows (tokens of 10–15 characters)", benchRow),
  // Token lengths from short to twice Google's documented maxima: SQLite stores a row that fills more than about half a
  // 4,096-byte page alone on its page, so bytes per row grow in steps, not in proportion to the tokens.
  connectionProfile("connections, Google-shaped, tokens of 256 + 128 characters", productionRow(256, 128)),
  connectionProfile("connections, Google-shaped, tokens of 1,024 + 512 characters", productionRow(1024, 512)),
  connectionProfile("connections, Google-shaped, tokens at Google's maxima (2,048 + 512)", productionRow(2048, 512)),
  connectionProfile("connections, Google-shaped, tokens twice that (4,096 + 1,024)", productionRow(4096, 1024)),
  auditProfile("token.vended", vendedEvent),
  auditProfile("token.refreshed", refreshedEvent),
];

/** The one D1 SQLite file of a `--persist-to` directory. */
function databaseFile(persistTo: string): string {
  const dir = path.join(persistTo, "v3", "d1", "miniflare-D1DatabaseObject");
  const file = readdirSync(dir).find((name) => name.endsWith(".sqlite") && name !== "metadata.sqlite");
  if (!file) throw new Error(`no D1 database file in ${dir}`);
  return path.join(dir, file);
}

/** Bytes of each table and index (its pages), with the WAL folded into the file first. */
function pagesByObject(file: string): Map<string, number> {
  const db = new DatabaseSync(file);
  try {
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    const rows = db.prepare("SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name").all() as { name: string; bytes: number }[];
    return new Map(rows.map((row) => [row.name, row.bytes]));
  } finally {
    db.close();
  }
}

async function wrangler(args: string[], persistTo: string): Promise<string> {
  return runWrangler([...args, "--local", "--persist-to", persistTo, "--config", "wrangler.jsonc"], {
    workDir: work,
    logFile: path.join(work, "wrangler.log"),
    timeoutMs: WRANGLER_TIMEOUT_MS,
  });
}

/** Average `length()` of every column of `table`, read through local D1. */
async function averageLengths(table: Table, tableName: string, persistTo: string): Promise<Record<string, number>> {
  const names = Object.values(getTableColumns(table)).map((column) => column.name);
  const select = names.map((name) => `round(avg(length(${name})), 1) AS ${name}`).join(", ");
  const output = await wrangler(["d1", "execute", "DB", "--json", "--command", `SELECT ${select} FROM ${tableName}`], persistTo);
  const parsed = JSON.parse(output.slice(output.indexOf("["))) as { results: Record<string, number | null>[] }[];
  const averages = parsed[0]?.results[0] ?? {};
  return Object.fromEntries(names.map((name) => [name, averages[name] ?? 0]));
}

async function measure(profile: Profile, index: number): Promise<string> {
  const persistTo = path.join(work, `state-${index}`);
  await wrangler(["d1", "migrations", "apply", "DB"], persistTo);
  const empty = pagesByObject(databaseFile(persistTo));
  const seedFile = path.join(work, `seed-${index}.sql`);
  writeFileSync(seedFile, await profile.seedSql());
  await wrangler(["d1", "execute", "DB", "--file", seedFile, "--yes"], persistTo);
  const full = pagesByObject(databaseFile(persistTo));
  const grown = [...full].map(([name, bytes]) => [name, bytes - (empty.get(name) ?? 0)] as const).filter(([, bytes]) => bytes > 0);
  const total = grown.reduce((sum, [, bytes]) => sum + bytes, 0);
  const perRow = (bytes: number) => (bytes / ROWS).toFixed(0);
  const lengths = await averageLengths(profile.table === "connections" ? connections : auditEvents, profile.table, persistTo);
  return [
    `### ${profile.name}: **${perRow(total)} bytes per row** (${ROWS} rows, ${(total / 2 ** 20).toFixed(2)} MiB)`,
    "",
    "| table or index | bytes per row |",
    "| --- | ---: |",
    ...grown.sort((a, b) => b[1] - a[1]).map(([name, bytes]) => `| ${name} | ${perRow(bytes)} |`),
    "",
    `Average \`length()\` per column: ${Object.entries(lengths)
      .map(([name, length]) => `${name} ${length}`)
      .join(", ")}; sum ${Object.values(lengths)
      .reduce((a, b) => a + b, 0)
      .toFixed(0)}.`,
    ...(profile.note ? ["", profile.note()] : []),
    "",
  ].join("\n");
}

try {
  const sections: string[] = [];
  for (const [index, profile] of PROFILES.entries()) {
    console.error(`measuring: ${profile.name}`);
    sections.push(await measure(profile, index));
  }
  console.log(
    `## Bytes per row, measured ${new Date().toISOString()} (\`npx tsx scripts/measure-storage.ts ${ROWS}\`)\n\nGrowth of each table and index over the migrated, empty database, divided by the rows inserted (SQLite pages of 4,096 bytes, \`dbstat\`).\n\n${sections.join("\n")}`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
