import { and, asc, count, eq, gt, gte, inArray, isNotNull, isNull, lt, lte, ne, or, sql } from "drizzle-orm";
import type { Database } from "./database";
import { connections, type ConnectionRow } from "./schema";

export type { ConnectionRow };

export interface UserConnectionKey {
  userId: string;
  id: string;
}

/**
 * The point read of every vend, prepared once per database: building a relational query costs several times the
 * CPU of running it (bench: docs/performance.md), and the vend does nothing else as often.
 */
function prepareFindConnection(db: Database) {
  return db.query.connections
    .findFirst({ where: and(eq(connections.userId, sql.placeholder("userId")), eq(connections.id, sql.placeholder("id"))) })
    .prepare();
}

const findConnectionQueries = new WeakMap<Database, ReturnType<typeof prepareFindConnection>>();

export async function findConnection(db: Database, { userId, id }: UserConnectionKey): Promise<ConnectionRow | null> {
  let query = findConnectionQueries.get(db);
  if (!query) {
    query = prepareFindConnection(db);
    findConnectionQueries.set(db, query);
  }
  const row = await query.execute({ userId, id });
  return row ?? null;
}

export async function listConnections(db: Database, { userId }: { userId: string }): Promise<ConnectionRow[]> {
  return db.select().from(connections).where(eq(connections.userId, userId)).orderBy(asc(connections.createdAt), asc(connections.id));
}

export async function findConnectionByAccount(
  db: Database,
  { userId, provider, accountId }: { userId: string; provider: string; accountId: string },
): Promise<ConnectionRow | null> {
  const row = await db.query.connections.findFirst({
    where: and(eq(connections.userId, userId), eq(connections.provider, provider), eq(connections.accountId, accountId)),
  });
  return row ?? null;
}

/** Inserts a new connection; false when one already exists for the same user, provider and account. */
export async function insertConnection(db: Database, row: ConnectionRow): Promise<boolean> {
  const inserted = await db
    .insert(connections)
    .values(row)
    .onConflictDoNothing({ target: [connections.userId, connections.provider, connections.accountId] })
    .returning({ id: connections.id });
  return inserted.length === 1;
}

export type ConnectionUpdate = Partial<Omit<ConnectionRow, "id" | "userId" | "provider" | "accountId" | "createdAt" | "version">>;

/**
 * Updates a connection only if its version is still `expectedVersion` (compare-and-swap), bumping the version.
 * Returns false when another writer got there first.
 */
export async function updateConnection(
  db: Database,
  { userId, id, expectedVersion }: UserConnectionKey & { expectedVersion: number },
  update: ConnectionUpdate,
): Promise<boolean> {
  const updated = await db
    .update(connections)
    .set({ ...update, version: expectedVersion + 1 })
    .where(and(eq(connections.userId, userId), eq(connections.id, id), eq(connections.version, expectedVersion)))
    .returning({ id: connections.id });
  return updated.length === 1;
}

/** Removes a connection and its token ciphertexts; false when it was not there. */
export async function deleteConnection(db: Database, { userId, id }: UserConnectionKey): Promise<boolean> {
  const deleted = await db
    .delete(connections)
    .where(and(eq(connections.userId, userId), eq(connections.id, id)))
    .returning({ id: connections.id });
  return deleted.length === 1;
}

/**
 * Whether any connection, of any user, holds tokens of the grant `grantKey` (Google keeps one grant per client and
 * account, whoever connected it). Reads no user data beyond that answer, so it needs no user id.
 */
export async function isGrantHeld(db: Database, grantKey: string): Promise<boolean> {
  const holders = await db.select({ id: connections.id }).from(connections).where(eq(connections.grantKey, grantKey)).limit(1);
  return holders.length > 0;
}

/**
 * Records the key of a write-ahead copy that may exist for the row in its user's Durable Object, or clears it with
 * `null`. The version is left alone: no token changed, and a copy made meanwhile must still apply.
 */
export async function setWriteAheadCopyKey(db: Database, { userId, id }: UserConnectionKey, keyId: string | null): Promise<void> {
  await db
    .update(connections)
    .set({ pendingWriteKeyId: keyId })
    .where(and(eq(connections.userId, userId), eq(connections.id, id)));
}

/** Records a failed re-encryption: the scan skips the row until `blockedUntil`. The version is left alone. */
export async function deferReEncryption(
  db: Database,
  { userId, id }: UserConnectionKey,
  { failures, blockedUntil }: { failures: number; blockedUntil: number },
): Promise<void> {
  await db
    .update(connections)
    .set({ reEncryptFailures: failures, reEncryptBlockedUntil: blockedUntil })
    .where(and(eq(connections.userId, userId), eq(connections.id, id)));
}

/** How many connections each encryption key id protects. */
export async function countConnectionsByKey(db: Database): Promise<Map<string, number>> {
  const rows = await db.select({ keyId: connections.keyId, count: count() }).from(connections).groupBy(connections.keyId);
  return new Map(rows.map((row) => [row.keyId, row.count]));
}

/** How many connections may have a write-ahead copy under each key id. */
export async function countWriteAheadCopiesByKey(db: Database): Promise<Map<string, number>> {
  const keyId = connections.pendingWriteKeyId;
  const rows = await db.select({ keyId, count: count() }).from(connections).where(isNotNull(keyId)).groupBy(keyId);
  return new Map(rows.flatMap((row) => (row.keyId === null ? [] : [[row.keyId, row.count] as const])));
}

/**
 * A page of connections for the re-encryption scan: tokens, or a possible write-ahead copy, under a key other than
 * `currentKeyId`, with no re-encryption job queued and not skipped after a failed re-encryption.
 */
export async function findConnectionsToReEncrypt(
  db: Database,
  { currentKeyId, now, afterId, limit }: { currentKeyId: string; now: number; afterId: string | null; limit: number },
): Promise<Pick<ConnectionRow, "id" | "userId">[]> {
  return db
    .select({ id: connections.id, userId: connections.userId })
    .from(connections)
    .where(
      and(
        or(
          ne(connections.keyId, currentKeyId),
          and(isNotNull(connections.pendingWriteKeyId), ne(connections.pendingWriteKeyId, currentKeyId)),
        ),
        or(isNull(connections.reEncryptBlockedUntil), lte(connections.reEncryptBlockedUntil, now)),
        afterId === null ? undefined : gt(connections.id, afterId),
      ),
    )
    .orderBy(asc(connections.id))
    .limit(limit);
}

export interface ExpiringPage {
  now: number;
  /** Select tokens expiring before this time. */
  expiringBefore: number;
  /** Keyset cursor: the last (expiry, id) of the previous page. */
  after: { expiresAt: number; id: string } | null;
  limit: number;
}

/**
 * Active connections with a refresh token whose access token is due for a proactive refresh, that are not cooling
 * down and have no refresh job queued: expiring inside the window and, by the vend's rule (vault/refresh-policy.ts
 * `isFreshEnough`, with the window as the validity asked for), no longer fresh enough. A token issued with a life no
 * longer than the window is due only once less than half of that life remains, so no job is queued for a token the
 * object would leave alone. A row queued within the last window is passed by until a refresh lands (see
 * `markRefreshEnqueued`).
 */
export async function findExpiringConnections(
  db: Database,
  page: ExpiringPage,
): Promise<Pick<ConnectionRow, "id" | "userId" | "accessTokenExpiresAt">[]> {
  const expiry = connections.accessTokenExpiresAt;
  const issuedAt = connections.accessTokenIssuedAt;
  const enqueuedAt = connections.refreshEnqueuedAt;
  const windowMs = page.expiringBefore - page.now;
  return db
    .select({ id: connections.id, userId: connections.userId, accessTokenExpiresAt: expiry })
    .from(connections)
    .where(
      and(
        eq(connections.status, "active"),
        isNotNull(connections.refreshTokenCiphertext),
        lt(expiry, page.expiringBefore),
        sql`(${issuedAt} IS NULL OR ${expiry} - ${issuedAt} > ${windowMs} OR ${expiry} <= ${page.now} OR 2 * (${expiry} - ${page.now}) < ${expiry} - ${issuedAt})`,
        or(isNull(connections.refreshBlockedUntil), lte(connections.refreshBlockedUntil, page.now)),
        or(isNull(enqueuedAt), lte(enqueuedAt, page.now - windowMs), gte(connections.lastRefreshedAt, enqueuedAt)),
        page.after
          ? or(gt(expiry, page.after.expiresAt), and(eq(expiry, page.after.expiresAt), gt(connections.id, page.after.id)))
          : undefined,
      ),
    )
    .orderBy(asc(expiry), asc(connections.id))
    .limit(page.limit);
}

/** D1 binds at most 100 parameters per statement: the ids of one update, and the value it sets. */
const IDS_PER_UPDATE = 99;

/** Sets `values` on the connections `ids` (any user's: the scans' bookkeeping, no user data), in one round trip. */
async function updateByIds(db: Database, ids: readonly string[], values: ConnectionUpdate): Promise<void> {
  const statements = [];
  for (let start = 0; start < ids.length; start += IDS_PER_UPDATE) {
    statements.push(
      db
        .update(connections)
        .set(values)
        .where(inArray(connections.id, ids.slice(start, start + IDS_PER_UPDATE))),
    );
  }
  const [first, ...rest] = statements;
  if (first) await db.batch([first, ...rest]);
}

/**
 * Records that the refresh scan of the tick at `enqueuedAt` queued a job for each of `ids`: `findExpiringConnections`
 * passes them by for one look-ahead window after it, unless a refresh lands first. The version is left alone.
 */
export function markRefreshEnqueued(db: Database, ids: readonly string[], enqueuedAt: number): Promise<void> {
  return updateByIds(db, ids, { refreshEnqueuedAt: enqueuedAt });
}

/**
 * Records that the re-encryption scan queued a job for each of `ids`: `findConnectionsToReEncrypt` passes them by
 * until `until`; the re-encryption clears it (or replaces it with a backoff). The version is left alone.
 */
export function holdForReEncryption(db: Database, ids: readonly string[], until: number): Promise<void> {
  return updateByIds(db, ids, { reEncryptBlockedUntil: until });
}
