/**
 * Seeds connection rows (./connection-rows.ts) straight into D1 (for cron, revocation and key-rotation tests),
 * encrypted with a key ring of the test's choosing so the row decrypts as the service would read it, plus readers
 * and rewriters of stored rows.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { getConfig, type EncryptionKey } from "../../src/config";
import { encryptTokenPair } from "../../src/connections/token-pair";
import { getTokenCipher, type TokenCipher } from "../../src/crypto/token-cipher";
import { database } from "../../src/storage/database";
import type { ConnectionRow } from "../../src/storage/connections";
import { connections } from "../../src/storage/schema";
import { TEST_ENCRYPTION_KEYS } from "./bindings";
import { connectionRow, type ConnectionRowOptions } from "./connection-rows";

/** `kid:base64key` of each test key, by id (`k2` is the ring's first in tests, `k1` the older one). */
const TEST_KEYS = Object.fromEntries(TEST_ENCRYPTION_KEYS.split(",").map((entry) => [entry.slice(0, entry.indexOf(":")), entry]));
export const K1 = TEST_KEYS.k1!;
export const K2 = TEST_KEYS.k2!;
/** A key that is in no ring the Worker or its Durable Object know (a key from the future, or a retired one). */
export const K3 = "k3:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=";

/** The parsed key ring of a `TOKEN_ENCRYPTION_KEYS` value. */
export function keyRing(value: string): readonly EncryptionKey[] {
  return getConfig({ ...env, TOKEN_ENCRYPTION_KEYS: value }).encryptionKeys;
}

/** The cipher the service would use with that ring (first key encrypts). */
export function cipherFor(value: string): TokenCipher {
  return getTokenCipher(keyRing(value));
}

/** The Worker's env with another key ring, for `createApp().fetch(…, env)` and `runScheduledTasks(env, …)`. */
export function envWithKeys(value: string): Env {
  return { ...env, TOKEN_ENCRYPTION_KEYS: value } as Env;
}

export interface SeedOptions extends Omit<ConnectionRowOptions, "now"> {
  /** The ring the tokens are written with (its first key). Default: the Worker's ring. */
  keys?: string;
}

/** A row as the service would store it, created now; tokens encrypted for this row, user and field. */
function seedRow({ keys = TEST_ENCRYPTION_KEYS, ...options }: SeedOptions): Promise<ConnectionRow> {
  return connectionRow(cipherFor(keys), { ...options, now: Date.now() });
}

/** D1 allows 100 bound parameters per statement; a row has 27 columns. */
const ROWS_PER_INSERT = 3;

/** Inserts the rows (in batches) and returns them. */
export async function insertRows(rows: readonly ConnectionRow[]): Promise<ConnectionRow[]> {
  const db = database(env.DB);
  const statements = [];
  for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
    statements.push(db.insert(connections).values(rows.slice(start, start + ROWS_PER_INSERT)));
  }
  const [first, ...rest] = statements;
  if (first) await db.batch([first, ...rest]);
  return [...rows];
}

/** Seeds one connection and returns its row. */
export async function seedConnection(options: SeedOptions): Promise<ConnectionRow> {
  const [row] = await insertRows([await seedRow(options)]);
  return row!;
}

/** Seeds `count` connections built by `options(i)`. */
export async function seedConnections(count: number, options: (index: number) => SeedOptions): Promise<ConnectionRow[]> {
  return insertRows(await Promise.all(Array.from({ length: count }, (_, index) => seedRow(options(index)))));
}

/** The stored row, or `null` once removed. */
export async function readRow(id: string): Promise<ConnectionRow | null> {
  const row = await database(env.DB).query.connections.findFirst({ where: (table, { eq }) => eq(table.id, id) });
  return row ?? null;
}

/** The row's tokens in plain text, decrypted with the given ring (default: the Worker's). */
export async function decryptRow(
  row: ConnectionRow,
  keys: string = TEST_ENCRYPTION_KEYS,
): Promise<{ accessToken: string; refreshToken: string | null }> {
  const cipher = cipherFor(keys);
  const owner = { userId: row.userId, connectionId: row.id };
  const access = await cipher.decrypt(row.accessTokenCiphertext, { ...owner, field: "access_token" });
  if (!access.ok) throw new Error(`access token does not decrypt: ${access.reason}`);
  if (row.refreshTokenCiphertext === null) return { accessToken: access.plaintext, refreshToken: null };
  const refresh = await cipher.decrypt(row.refreshTokenCiphertext, { ...owner, field: "refresh_token" });
  if (!refresh.ok) throw new Error(`refresh token does not decrypt: ${refresh.reason}`);
  return { accessToken: access.plaintext, refreshToken: refresh.plaintext };
}

/**
 * Rewrites a stored row's tokens under the first key of `keys`, as if they had been written before that ring's
 * rotation (or under a key the service no longer holds); the version stays, so no writer sees a change.
 */
export async function moveRowToKeys(id: string, keys: string): Promise<ConnectionRow> {
  const row = (await readRow(id))!;
  const tokens = await decryptRow(row);
  const cipher = cipherFor(keys);
  const moved = {
    ...(await encryptTokenPair(cipher, { userId: row.userId, connectionId: row.id }, tokens)),
    // A marker of a write-ahead copy moves with it (see refresh-fixtures.ts `moveWriteAheadCopyToKeys`).
    ...(row.pendingWriteKeyId ? { pendingWriteKeyId: cipher.currentKeyId } : {}),
  };
  await database(env.DB).update(connections).set(moved).where(eq(connections.id, id));
  return (await readRow(id))!;
}

/** Removes every connection: for files whose tests count what a cron run selects (D1 is per test file). */
export async function deleteAllConnections(): Promise<void> {
  await env.DB.prepare("DELETE FROM connections").run();
}
