/**
 * The index of a user's pending authorizations in the user's Durable Object: the alarm sweeps expired entries, and an
 * erasure deletes the KV records of every indexed authorization (within one invocation's KV budget, the rest by alarm).
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { userVault, type UserVault } from "../../src/vault/user-vault";
import { newUserId } from "../support/users";

const INDEX_PREFIX = "pending-authorization:";

async function indexedKeys(userId: string): Promise<string[]> {
  return runInDurableObject(userVault(env, userId), async (_instance: UserVault, state) =>
    [...(await state.storage.list({ prefix: INDEX_PREFIX })).keys()].map((key) => key.slice(INDEX_PREFIX.length)).sort(),
  );
}

async function storedInKv(keys: readonly string[]): Promise<string[]> {
  const found = await Promise.all(keys.map(async (key) => ((await env.AUTH_STATE.get(key)) === null ? null : key)));
  return found.filter((key): key is string => key !== null);
}

describe("the index of pending authorizations", () => {
  it("is swept by the alarm once an authorization's KV record has expired, and the alarm re-arms for the next", async () => {
    const userId = newUserId("index-sweep");
    const stub = userVault(env, userId);
    const now = Date.now();
    await stub.registerPendingAuthorization("authz:live", now + 60_000);
    await stub.registerPendingAuthorization("authz:expired", now - 1);

    // The alarm is due at once and may run on its own: run it if it has not.
    await vi.waitFor(
      async () => {
        await runDurableObjectAlarm(stub);
        expect(await indexedKeys(userId)).toEqual(["authz:live"]);
      },
      { timeout: 10_000, interval: 50 },
    );
    await runInDurableObject(stub, async (_instance: UserVault, state) => {
      expect(await state.storage.getAlarm()).toBe(now + 60_000);
    });
  });

  it("orders an authorization registered right after an erasure after it, even within the same millisecond", async () => {
    const userId = newUserId("index-order");
    const stub = userVault(env, userId);
    const expiresAt = Date.now() + 60_000;
    const before = await stub.registerPendingAuthorization("authz:before", expiresAt);
    expect((await stub.erase({ userId, client: { ip: null, userAgent: null } })).complete).toBe(true);
    const after = await stub.registerPendingAuthorization("authz:after", expiresAt);

    expect(await stub.claimCompletion("callback:before", expiresAt, before)).toBe("ended_by_erasure");
    expect(await stub.claimCompletion("callback:after", expiresAt, after)).toBe("claimed");
    expect(await stub.claimCompletion("callback:after", expiresAt, after)).toBe("replayed");
  });

  it("is ended by an erasure with more authorizations than one invocation may delete from KV: the alarm deletes the rest", async () => {
    const userId = newUserId("index-erasure");
    const stub = userVault(env, userId);
    const expiresAt = Date.now() + 600_000;
    const keys = Array.from({ length: 520 }, (_, index) => `authz:${userId}-${String(index).padStart(3, "0")}`);
    // KV records for the first authorizations and for the last ones, which one invocation's budget does not reach.
    const stored = [...keys.slice(0, 5), ...keys.slice(-25)];
    await Promise.all(stored.map((key) => env.AUTH_STATE.put(key, "{}")));
    // Indexed as `registerPendingAuthorization` would, in bulk (storage takes at most 128 keys per put).
    await runInDurableObject(stub, async (_instance: UserVault, state) => {
      for (let start = 0; start < keys.length; start += 128) {
        const entries = keys.slice(start, start + 128).map((key) => [`${INDEX_PREFIX}${key}`, { begunAt: Date.now(), expiresAt }]);
        await state.storage.put(Object.fromEntries(entries));
      }
    });

    const erased = await stub.erase({ userId, client: { ip: null, userAgent: null } });
    // The alarm the erasure armed for the rest runs on its own, maybe already under way: run it if it has not, and
    // wait for the index to empty (the alarm removes an entry only once its KV record is deleted).
    await vi.waitFor(
      async () => {
        await runDurableObjectAlarm(stub);
        expect(await indexedKeys(userId)).toEqual([]);
      },
      { timeout: 10_000, interval: 50 },
    );

    expect(erased).toMatchObject({ pendingAuthorizations: 520, complete: true });
    expect(await storedInKv(stored)).toEqual([]);
  });
});
