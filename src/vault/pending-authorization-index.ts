/**
 * The user's pending authorizations and erasure, kept in the user's Durable Object: KV holds each authorization's
 * transaction but cannot be listed reliably (listings are eventually consistent, and a user can begin thousands of
 * authorizations), and only this object orders "begun" against "erased". An authorization begun at or before the
 * user's last erasure may never complete.
 */

/** One pending authorization: when this object saw it begin, and when its KV record expires. */
export interface IndexedAuthorization {
  begunAt: number;
  expiresAt: number;
}

/** Durable Object storage key prefix; the rest is the authorization's KV key (`authz:{sha256(state)}`). */
const INDEX_PREFIX = "pending-authorization:";
/** Durable Object storage key of the time of the user's last erasure (ms, this object's clock). */
const ERASED_AT_KEY = "erased-at";
/** Durable Object storage key of the last time handed out, so that begins and erasures never share a millisecond. */
const LAST_TIME_KEY = "last-event-at";
/** Durable Object storage deletes at most 128 keys per call. */
const MAX_KEYS_PER_DELETE = 128;

export interface PendingAuthorizationIndex {
  /** Records an authorization begun at `now` and returns its begin time in this object's order of events. */
  register(kvKey: string, expiresAt: number, now: number): Promise<number>;
  /** Every pending authorization still indexed, by KV key. */
  entries(): Promise<Map<string, IndexedAuthorization>>;
  remove(kvKeys: readonly string[]): Promise<void>;
  /** Records an erasure at `now` and returns its time in this object's order of events. */
  recordErasure(now: number): Promise<number>;
  /** The time of the user's last erasure, or `null` when there was none. */
  erasedAt(): Promise<number | null>;
}

export function pendingAuthorizationIndexIn(storage: DurableObjectStorage): PendingAuthorizationIndex {
  /**
   * `now`, or just after the last time handed out: begins and erasures get strictly increasing times, so "begun at
   * or before the erasure" is exact even within one millisecond (the object handles one event at a time).
   */
  const nextTime = async (now: number) => {
    const time = Math.max(now, ((await storage.get<number>(LAST_TIME_KEY)) ?? -Infinity) + 1);
    await storage.put(LAST_TIME_KEY, time);
    return time;
  };
  const erasedAt = async () => (await storage.get<number>(ERASED_AT_KEY)) ?? null;
  return {
    async register(kvKey, expiresAt, now) {
      const begunAt = await nextTime(now);
      await storage.put(`${INDEX_PREFIX}${kvKey}`, { begunAt, expiresAt } satisfies IndexedAuthorization);
      return begunAt;
    },
    async entries() {
      const stored = await storage.list<IndexedAuthorization>({ prefix: INDEX_PREFIX });
      return new Map([...stored].map(([key, entry]) => [key.slice(INDEX_PREFIX.length), entry]));
    },
    async remove(kvKeys) {
      const keys = kvKeys.map((kvKey) => `${INDEX_PREFIX}${kvKey}`);
      for (let start = 0; start < keys.length; start += MAX_KEYS_PER_DELETE) {
        await storage.delete(keys.slice(start, start + MAX_KEYS_PER_DELETE));
      }
    },
    async recordErasure(now) {
      const time = await nextTime(now);
      await storage.put(ERASED_AT_KEY, time);
      return time;
    },
    erasedAt,
  };
}

/** True when an authorization begun at `begunAt` was ended by the erasure at `erasedAt`. */
export function isEndedByErasure(begunAt: number, erasedAt: number | null): boolean {
  return erasedAt !== null && begunAt <= erasedAt;
}
