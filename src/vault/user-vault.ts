import { DurableObject } from "cloudflare:workers";
import type { AuditActor } from "../audit/audit-sink";
import { createServices } from "../services";
import { updateConnection } from "../storage/connections";
import { pendingWritesIn, reconcilePendingWrite } from "./pending-writes";
import { reEncryptConnection, type ReEncryptResult } from "./re-encryption";
import { refreshConnection, type RefreshRequest, type RefreshResult } from "./refresh";
import { revokeAndRemove, type RemovalRequest, type RemovalResult } from "./removal";
import type { VaultServices } from "./vault-services";

/**
 * Stored keys in this object's storage:
 *   `claim:{name}` -> expiry (ms). A claim is a single-use step (redirecting to the provider or completing one
 *     pending authorization); kept until its expiry so a replay inside the state's TTL is refused, then swept by the alarm.
 *   `pending-write:{connectionId}` -> PendingWrite (./pending-writes.ts): refreshed token ciphertexts not yet
 *     confirmed in D1; erased once D1 holds them or the connection is removed.
 */
const CLAIM_PREFIX = "claim:";
/** Durable Object storage deletes at most 128 keys per call. */
const MAX_KEYS_PER_DELETE = 128;

/**
 * The vault of one user: it serializes that user's single-use steps and every write of a connection's tokens
 * (refresh, removal, re-encryption). A Durable Object runs one event at a time between awaits on I/O, so a
 * read-then-write on its storage is atomic; work that awaits a provider is serialized per connection by a queue,
 * and concurrent refreshes of one connection share one promise (single flight).
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
    const refresh = this.serialized(request.connectionId, () =>
      this.withServices(request.userId, actor, (vault) => refreshConnection(vault, request)),
    );
    this.refreshes.set(request.connectionId, refresh);
    void refresh.finally(() => this.refreshes.delete(request.connectionId)).catch(() => undefined);
    return refresh;
  }

  /** Revokes upstream where possible, then wipes the tokens everywhere and removes the connection. */
  async remove(request: RemovalRequest): Promise<RemovalResult> {
    return this.serialized(request.connectionId, () =>
      this.withServices(request.userId, "user", async (vault) => {
        // A refresh whose D1 write failed left the newest (rotated) refresh token only in the write-ahead copy: bring
        // D1 up to date first, so the upstream revocation ends the live grant instead of sending a dead token.
        await reconcilePendingWrite(vault, request.userId, request.connectionId);
        const result = await revokeAndRemove(vault, request);
        await vault.pendingWrites.delete(request.connectionId);
        return result;
      }),
    );
  }

  /** Re-encrypts the connection's tokens with the current key (key rotation), never racing a refresh. */
  async reEncrypt(userId: string, connectionId: string): Promise<ReEncryptResult> {
    return this.serialized(connectionId, () =>
      this.withServices(userId, "cron", (vault) => reEncryptConnection(vault, { userId, connectionId })),
    );
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
  protected writeConnection: VaultServices["writeConnection"] = updateConnection;

  /** Runs `task` with this call's services and writes the audit events it recorded, whatever its outcome. */
  private async withServices<T>(userId: string, actor: AuditActor, task: (vault: VaultServices) => Promise<T>): Promise<T> {
    const vault: VaultServices = {
      ...createServices(this.env, { requestId: null, ip: null, userId, actor }),
      pendingWrites: pendingWritesIn(this.ctx.storage),
      writeConnection: (...args) => this.writeConnection(...args),
    };
    try {
      return await task(vault);
    } finally {
      await vault.audit.flush();
    }
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
