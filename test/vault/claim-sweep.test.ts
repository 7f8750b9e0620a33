import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { userVault } from "../../src/vault/user-vault";
import { newUserId } from "../support/users";

describe("single-use claim sweep", () => {
  it("deletes expired claims and re-arms for the earliest claim still live", async () => {
    const stub = userVault(env, newUserId("claim-sweep"));
    const now = Date.now();
    await runInDurableObject(stub, async (_instance, state) => {
      await state.storage.put({
        "claim:expired-a": now - 60_000,
        "claim:expired-b": now - 1,
        "claim:live-late": now + 120_000,
        "claim:live-soon": now + 60_000,
        "pending-write:c1": { unrelated: true },
      });
      await state.storage.setAlarm(now + 1_000);
    });

    expect(await runDurableObjectAlarm(stub)).toBe(true);

    await runInDurableObject(stub, async (_instance, state) => {
      expect([...(await state.storage.list()).keys()].sort()).toEqual(["claim:live-late", "claim:live-soon", "pending-write:c1"]);
      expect(await state.storage.getAlarm()).toBe(now + 60_000);
    });
  });

  it("deletes more expired claims than one storage delete accepts, and arms nothing when none is left", async () => {
    const stub = userVault(env, newUserId("claim-sweep-many"));
    const now = Date.now();
    await runInDurableObject(stub, async (_instance, state) => {
      const entries: Record<string, number> = {};
      for (let index = 0; index < 300; index++) entries[`claim:old-${index}`] = now - 1_000 - index;
      for (const chunk of [0, 1, 2]) {
        await state.storage.put(Object.fromEntries(Object.entries(entries).slice(chunk * 100, chunk * 100 + 100)));
      }
      await state.storage.setAlarm(now + 1_000);
    });

    expect(await runDurableObjectAlarm(stub)).toBe(true);

    await runInDurableObject(stub, async (_instance, state) => {
      expect((await state.storage.list({ prefix: "claim:" })).size).toBe(0);
      expect(await state.storage.getAlarm()).toBeNull();
    });
  });

  it("a state claimed once cannot be claimed again until the sweep removes it", async () => {
    const stub = userVault(env, newUserId("claim-once"));
    const expiresAt = Date.now() + 60_000;
    expect(await stub.claimOnce("callback:x", expiresAt)).toBe(true);
    expect(await stub.claimOnce("callback:x", expiresAt)).toBe(false);
    await runInDurableObject(stub, async (_instance, state) => {
      expect(await state.storage.getAlarm()).toBe(expiresAt);
    });
  });
});
