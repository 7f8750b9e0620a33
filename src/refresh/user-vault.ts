import { DurableObject } from "cloudflare:workers";

/**
 * Stored keys in this object's storage:
 *   `claim:{name}` -> expiry (ms). A claim is a single-use step (starting or completing one authorization flow);
 *   kept until its expiry so a replay inside the state's TTL is refused, then swept by the alarm.
 */
const CLAIM_PREFIX = "claim:";
/** Durable Object storage deletes at most 128 keys per call. */
const MAX_KEYS_PER_DELETE = 128;

/**
 * One object per user: it serializes that user's single-use steps and token refreshes. A Durable Object
 * runs one request at a time between awaits on I/O, so a read-then-write on its storage is atomic.
 */
export class UserVault extends DurableObject<Env> {
  /** True the first time `name` is claimed before `expiresAt`; false for every later claim. */
  async claimOnce(name: string, expiresAt: number): Promise<boolean> {
    const key = `${CLAIM_PREFIX}${name}`;
    const existing = await this.ctx.storage.get<number>(key);
    if (existing !== undefined) return false;
    await this.ctx.storage.put(key, expiresAt);
    const alarm = await this.ctx.storage.getAlarm();
    if (alarm === null || alarm > expiresAt) await this.ctx.storage.setAlarm(expiresAt);
    return true;
  }

  /** Sweeps expired claims and re-arms for the next one. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const claims = await this.ctx.storage.list<number>({ prefix: CLAIM_PREFIX });
    const expired = [...claims].filter(([, expiresAt]) => expiresAt <= now).map(([key]) => key);
    for (let start = 0; start < expired.length; start += MAX_KEYS_PER_DELETE) {
      await this.ctx.storage.delete(expired.slice(start, start + MAX_KEYS_PER_DELETE));
    }
    const next = Math.min(...[...claims.values()].filter((expiresAt) => expiresAt > now));
    if (Number.isFinite(next)) await this.ctx.storage.setAlarm(next);
  }
}

/** The vault of one user. */
export function userVault(env: Env, userId: string): DurableObjectStub<UserVault> {
  return env.USER_VAULT.getByName(userId);
}
