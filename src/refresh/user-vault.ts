import { DurableObject } from "cloudflare:workers";
import { getConfig } from "../config";
import { getTokenCipher } from "../crypto/token-cipher";
import { getProviderRegistry } from "../providers/registry";
import { insertAuditEvents } from "../storage/audit-events";
import { database } from "../storage/database";
import { updateConnection } from "../storage/connections";
import { reEncryptConnection, type ReEncryptResult } from "./re-encrypt";
import {
  reconcilePendingWrite,
  refreshConnection,
  type PendingWrite,
  type PendingWrites,
  type RefreshDependencies,
  type RefreshRequest,
  type RefreshResult,
} from "./refresh-connection";
import { revokeAndRemove, type RemovalRequest, type RemovalResult } from "./remove";

/**
 * Stored keys in this object's storage:
 *   `claim:{name}` -> expiry (ms). A claim is a single-use step (starting or completing one authorization flow);
 *     kept until its expiry so a replay inside the state's TTL is refused, then swept by the alarm.
 *   `pending-write:{connectionId}` -> PendingWrite: refreshed token ciphertexts not yet confirmed in D1
 *     (write-ahead for rotated refresh tokens); erased once D1 holds them or the connection is removed.
 */
const CLAIM_PREFIX = "claim:";
const PENDING_WRITE_PREFIX = "pending-write:";
/** Durable Object storage deletes at most 128 keys per call. */
const MAX_KEYS_PER_DELETE = 128;

/**
 * One object per user: it serializes that user's single-use steps and token writes. A Durable Object runs one
 * event at a time between awaits on I/O, so a read-then-write on its storage is atomic; refreshes, which await
 * the provider, are made single-flight per connection by sharing one promise.
 */
export class UserVault extends DurableObject<Env> {
  /** The refresh each connection is running or waiting to run; callers arriving meanwhile share its result. */
  private readonly refreshes = new Map<string, Promise<RefreshResult>>();
  private readonly queues = new Map<string, Promise<void>>();

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

  /** A token for the connection: the stored one if it answers the request, else one upstream refresh shared by all callers. */
  async refresh(request: RefreshRequest): Promise<RefreshResult> {
    const shared = this.refreshes.get(request.connectionId);
    if (shared) return shared;
    const actor = request.trigger === "cron" ? "cron" : "backend";
    const refresh = this.serialized(request.connectionId, () => refreshConnection(this.dependencies(actor), request));
    this.refreshes.set(request.connectionId, refresh);
    void refresh.finally(() => this.refreshes.delete(request.connectionId)).catch(() => undefined);
    return refresh;
  }

  /** Revokes upstream where possible, then wipes the tokens everywhere and removes the connection. */
  async remove(request: RemovalRequest): Promise<RemovalResult> {
    return this.serialized(request.connectionId, async () => {
      const deps = this.dependencies("user");
      // A refresh whose D1 write failed left the newest (rotated) refresh token only in the write-ahead copy: bring
      // D1 up to date first, so the upstream revocation ends the live grant instead of sending a dead token.
      await reconcilePendingWrite(deps, request.userId, request.connectionId);
      const result = await revokeAndRemove(deps, request);
      await deps.pendingWrites.delete(request.connectionId);
      return result;
    });
  }

  /** Re-encrypts the connection's tokens with the current key (key rotation), never racing a refresh. */
  async reEncrypt(userId: string, connectionId: string): Promise<ReEncryptResult> {
    return this.serialized(connectionId, () => reEncryptConnection(this.dependencies("cron"), { userId, connectionId }));
  }

  /** Runs `task` once every earlier task of the same connection has settled (a per-connection queue). */
  private serialized<T>(connectionId: string, task: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(connectionId) ?? Promise.resolve();
    const run = previous.then(task);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(connectionId, settled);
    void settled.then(() => {
      if (this.queues.get(connectionId) === settled) this.queues.delete(connectionId);
    });
    return run;
  }

  /** Test seam: the D1 write of refreshed tokens. */
  protected writeConnection: RefreshDependencies["writeConnection"] = updateConnection;

  private dependencies(actor: string): RefreshDependencies {
    const config = getConfig(this.env);
    const db = database(this.env.DB);
    const storage = this.ctx.storage;
    const pendingWrites: PendingWrites = {
      get: (connectionId) => storage.get<PendingWrite>(`${PENDING_WRITE_PREFIX}${connectionId}`),
      put: (connectionId, write) => storage.put(`${PENDING_WRITE_PREFIX}${connectionId}`, write),
      delete: async (connectionId) => {
        await storage.delete(`${PENDING_WRITE_PREFIX}${connectionId}`);
      },
    };
    return {
      db,
      cipher: getTokenCipher(config.encryptionKeys),
      providers: getProviderRegistry(config),
      pendingWrites,
      now: Date.now,
      writeConnection: (...args) => this.writeConnection(...args),
      audit: async (event) => {
        await insertAuditEvents(db, [{ ...event, at: Date.now(), actor, requestId: null, ip: null }]).catch((error: unknown) => {
          console.error(JSON.stringify({ message: "audit write failed", error: error instanceof Error ? error.name : "unknown" }));
        });
      },
    };
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
