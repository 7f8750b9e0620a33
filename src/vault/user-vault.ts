import { DurableObject } from "cloudflare:workers";
import { NO_TRACE, type AuditActor, type AuditTrace } from "../audit/audit-sink";
import { userErasedEvent } from "../events/payloads";
import { createServices } from "../services";
import { updateConnection } from "../storage/connections";
import { deletePendingAuthorizations } from "../storage/pending-authorizations";
import { completeAuthorization, type AuthorizationCompletion, type CompletionResult } from "./authorization-completion";
import { eraseConnections, logErasureFailure, type ErasedConnections, type ErasureRequest } from "./erasure";
import { isEndedByErasure, pendingAuthorizationIndexIn } from "./pending-authorization-index";
import { pendingWritesIn } from "./pending-writes";
import { reEncryptConnection, type ReEncryptResult } from "./re-encryption";
import { refreshConnection, type RefreshRequest, type RefreshResult } from "./refresh";
import { tokenAnswers } from "./refresh-policy";
import { removeConnection, type RemovalRequest, type RemovalResult } from "./removal";
import type { VaultServices } from "./vault-services";

/**
 * Stored keys in this object's storage:
 *   `claim:{name}` -> expiry (ms). A claim is a single-use step (redirecting to the provider, completing one
 *     pending authorization, binding a connect link to a browser); kept until its expiry so a replay inside the
 *     state's TTL is refused, then swept by the alarm. `claim:{name}#{holder}` -> expiry: whom `bindOnce` bound it to.
 *   `pending-write:{connectionId}` -> PendingWrite (./pending-writes.ts): refreshed token ciphertexts not yet
 *     confirmed in D1; erased once D1 holds them or the connection is removed. The row's `pending_write_key_id`
 *     tells those outside this object that one may exist, and under which key.
 *   `pending-authorization:{authz key}` -> {begunAt, expiresAt} (./pending-authorization-index.ts): the index of the
 *     user's pending authorizations in KV; swept by the alarm after expiry, or ended (KV record deleted) by an erasure.
 *   `erased-at` -> the time of the user's last erasure; `last-event-at` -> the last time handed to a begin or erasure.
 */
const CLAIM_PREFIX = "claim:";
/** Durable Object storage deletes at most 128 keys per call. */
const MAX_KEYS_PER_DELETE = 128;
/**
 * KV records an erasure deletes per invocation: KV allows 1,000 operations per invocation, and a user may have begun
 * thousands of authorizations in their 10 minutes. The alarm deletes the rest, each run in an invocation of its own.
 */
const MAX_KV_DELETES_PER_INVOCATION = 500;

/** The answer of `erase`: what was found and removed, and whether everything could be. */
export interface ErasureResult extends ErasedConnections {
  /** Pending authorizations the erasure ended (their KV records deleted now or by the alarm). */
  pendingAuthorizations: number;
  /** False when part of the local wipe failed (D1 or KV unavailable): repeating the erasure finishes it. */
  complete: boolean;
}

/**
 * The vault of one user: it serializes that user's single-use steps, every write of a connection's tokens (refresh,
 * removal, re-encryption), and the user's erasure against newly authorized connections. A Durable Object runs one
 * event at a time between awaits on I/O, so a read-then-write on its storage is atomic; work that awaits a provider
 * or D1 is serialized per connection by a queue (concurrent refreshes of one connection share one promise: single
 * flight), and per user by a lock where a whole sequence of D1 writes must not interleave with another.
 */
export class UserVault extends DurableObject<Env> {
  /** The refresh each connection is running or waiting to run; callers arriving meanwhile share its result. */
  private readonly refreshes = new Map<string, Promise<RefreshResult>>();
  private readonly queues = new Map<string, Promise<void>>();
  /** Settles when the task holding the user-level lock has settled. */
  private userLock: Promise<void> = Promise.resolve();

  /** True the first time `name` is claimed before `expiresAt`; false for every later claim. */
  async claimOnce(name: string, expiresAt: number): Promise<boolean> {
    const key = `${CLAIM_PREFIX}${name}`;
    const existing = await this.ctx.storage.get<number>(key);
    if (existing !== undefined) return false;
    await this.ctx.storage.put(key, expiresAt);
    await this.armAlarm(expiresAt);
    return true;
  }

  /**
   * Binds `name` to `holder` (a digest) until `expiresAt`, the first time it is asked; answers whether `holder` is the
   * one bound, now or before. The binding is a second claim named after its holder, so the alarm sweeps it alike.
   */
  async bindOnce(name: string, holder: string, expiresAt: number): Promise<boolean> {
    if (!(await this.claimOnce(name, expiresAt))) return this.isBoundTo(name, holder);
    await this.ctx.storage.put(`${CLAIM_PREFIX}${name}#${holder}`, expiresAt);
    return true;
  }

  /** True when `bindOnce` bound `name` to `holder`. */
  async isBoundTo(name: string, holder: string): Promise<boolean> {
    return (await this.ctx.storage.get<number>(`${CLAIM_PREFIX}${name}#${holder}`)) !== undefined;
  }

  /**
   * Indexes a pending authorization (its KV storage key) until `expiresAt`; returns when it began in this object's
   * order of events, which decides whether a later erasure ends it.
   */
  async registerPendingAuthorization(kvKey: string, expiresAt: number): Promise<number> {
    const begunAt = await this.pendingAuthorizations().register(kvKey, expiresAt, Date.now());
    await this.armAlarm(expiresAt);
    return begunAt;
  }

  /** Claims the completion of an authorization begun at `begunAt` once, unless the user was erased since. */
  async claimCompletion(name: string, expiresAt: number, begunAt: number): Promise<"claimed" | "replayed" | "ended_by_erasure"> {
    if (isEndedByErasure(begunAt, await this.pendingAuthorizations().erasedAt())) return "ended_by_erasure";
    return (await this.claimOnce(name, expiresAt)) ? "claimed" : "replayed";
  }

  /** Stores a newly authorized connection, never interleaved with an erasure (see ./authorization-completion.ts). */
  async completeAuthorization(request: AuthorizationCompletion, trace: AuditTrace = NO_TRACE): Promise<CompletionResult> {
    return this.underUserLock(() =>
      this.withServices(request.userId, "user", trace, async (vault) =>
        completeAuthorization(vault, request, await this.pendingAuthorizations().erasedAt()),
      ),
    );
  }

  /**
   * Erases the user: records the erasure first (so every authorization begun until now is refused at its callback,
   * before or after its code exchange), ends the pending authorizations, then, once no newly authorized connection is
   * being stored, removes every connection and integration activation; a finished erasure publishes `user.erased`
   * after the connections' `connection.deleted`.
   */
  async erase(request: ErasureRequest, trace: AuditTrace = NO_TRACE): Promise<ErasureResult> {
    const now = Date.now();
    await this.pendingAuthorizations().recordErasure(now);
    let pendingAuthorizations = 0;
    let authorizationsEnded = true;
    try {
      const swept = await this.sweepPendingAuthorizations(now);
      pendingAuthorizations = swept.ended;
      if (swept.more) await this.armAlarm(now);
    } catch (error) {
      logErasureFailure("authorizations", error);
      authorizationsEnded = false;
    }
    const erased = await this.underUserLock(() =>
      this.withServices(request.userId, "user", trace, async (vault) => {
        const connections = await eraseConnections(vault, request, (connectionId, task) => this.serialized(connectionId, task));
        // Only a finished erasure is one: an unfinished one is repeated by its client, and that repeat publishes it.
        if (authorizationsEnded && connections.failures === 0) vault.events.publish(userErasedEvent(request.userId));
        return connections;
      }),
    );
    return { ...erased, pendingAuthorizations, complete: authorizationsEnded && erased.failures === 0 };
  }

  /**
   * A token for the connection: the stored one if it answers the request, else one upstream refresh shared by all
   * callers. A caller that joins a call which answered with the stored token gets it only if that token answers its
   * own request too: never the token it reports rejected, never an unrefreshed one for `force_refresh`.
   */
  async refresh(request: RefreshRequest, trace: AuditTrace = NO_TRACE): Promise<RefreshResult> {
    const shared = this.refreshes.get(request.connectionId);
    if (shared) {
      const result = await shared;
      if (result.kind !== "token" || tokenAnswers(request, result, result.refreshed, Date.now())) return result;
    }
    return this.startRefresh(request, trace);
  }

  /** Queues a refresh of the connection behind its earlier tasks; callers arriving meanwhile share it. */
  private startRefresh(request: RefreshRequest, trace: AuditTrace): Promise<RefreshResult> {
    const actor = request.trigger === "cron" ? "cron" : "backend";
    const refresh = this.serialized(request.connectionId, () =>
      this.withServices(request.userId, actor, trace, (vault) => refreshConnection(vault, request)),
    );
    this.refreshes.set(request.connectionId, refresh);
    void refresh
      .finally(() => {
        if (this.refreshes.get(request.connectionId) === refresh) this.refreshes.delete(request.connectionId);
      })
      .catch(() => undefined);
    return refresh;
  }

  /** Wipes the connection's tokens everywhere and removes it, then revokes its grant upstream (./removal.ts). */
  async remove(request: RemovalRequest, trace: AuditTrace = NO_TRACE): Promise<RemovalResult> {
    return this.serialized(request.connectionId, () =>
      this.withServices(request.userId, "user", trace, (vault) => removeConnection(vault, request)),
    );
  }

  /**
   * Re-encrypts the connection's tokens with the current key (key rotation), after applying a write-ahead copy,
   * never racing a refresh.
   */
  async reEncrypt(userId: string, connectionId: string): Promise<ReEncryptResult> {
    return this.serialized(connectionId, () =>
      this.withServices(userId, "cron", NO_TRACE, (vault) => reEncryptConnection(vault, { userId, connectionId })),
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

  /** Runs `task` once every earlier task holding the user-level lock has settled. */
  private underUserLock<T>(task: () => Promise<T>): Promise<T> {
    const run = this.userLock.then(task);
    this.userLock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Test seam: the D1 write of refreshed tokens. */
  protected writeConnection: VaultServices["writeConnection"] = updateConnection;

  /**
   * Runs `task` with this call's services, then writes the audit events and queues the webhook events it recorded,
   * whatever its outcome: after the call's own writes, in this call (nothing outlives it), at the cost of one
   * `sendBatch` only when an event was published (a refresh publishes one only when its outcome changes what
   * subscribers were told: `needs_reauth`, `refresh_failed`, `recovered`).
   */
  private async withServices<T>(
    userId: string,
    actor: AuditActor,
    trace: AuditTrace,
    task: (vault: VaultServices) => Promise<T>,
  ): Promise<T> {
    const vault: VaultServices = {
      ...createServices(this.env, { ...trace, userId, actor }),
      pendingWrites: pendingWritesIn(this.ctx.storage),
      writeConnection: (...args) => this.writeConnection(...args),
    };
    try {
      return await task(vault);
    } finally {
      await Promise.all([vault.audit.flush(), vault.events.flush()]);
    }
  }

  /** Sweeps expired claims and index entries, goes on ending the authorizations of an erasure, and re-arms. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const claims = await this.sweepClaims(now);
    const authorizations = await this.sweepPendingAuthorizations(now);
    const next = authorizations.more ? now : Math.min(...claims, ...authorizations.expiries);
    if (Number.isFinite(next)) await this.ctx.storage.setAlarm(next);
  }

  /** Deletes expired claims; returns the expiries of the others. */
  private async sweepClaims(now: number): Promise<number[]> {
    const claims = await this.ctx.storage.list<number>({ prefix: CLAIM_PREFIX });
    const expired = [...claims].filter(([, expiresAt]) => expiresAt <= now).map(([key]) => key);
    for (let start = 0; start < expired.length; start += MAX_KEYS_PER_DELETE) {
      await this.ctx.storage.delete(expired.slice(start, start + MAX_KEYS_PER_DELETE));
    }
    return [...claims.values()].filter((expiresAt) => expiresAt > now);
  }

  /**
   * Drops index entries whose KV record has expired, and deletes the KV records of those the last erasure ended, up to
   * this invocation's budget. Returns how many the erasure ended, whether some are left for another invocation, and
   * the expiries of the entries still indexed.
   */
  private async sweepPendingAuthorizations(now: number): Promise<{ ended: number; more: boolean; expiries: number[] }> {
    const index = this.pendingAuthorizations();
    const entries = [...(await index.entries())];
    const live = entries.filter(([, entry]) => entry.expiresAt > now);
    await index.remove(entries.filter(([, entry]) => entry.expiresAt <= now).map(([kvKey]) => kvKey));
    const erasedAt = await index.erasedAt();
    const ended = live.filter(([, entry]) => isEndedByErasure(entry.begunAt, erasedAt)).map(([kvKey]) => kvKey);
    const batch = ended.slice(0, MAX_KV_DELETES_PER_INVOCATION);
    await deletePendingAuthorizations(this.env.AUTH_STATE, batch);
    await index.remove(batch);
    const deleted = new Set(batch);
    return {
      ended: ended.length,
      more: ended.length > batch.length,
      expiries: live.filter(([kvKey]) => !deleted.has(kvKey)).map(([, entry]) => entry.expiresAt),
    };
  }

  private pendingAuthorizations() {
    return pendingAuthorizationIndexIn(this.ctx.storage);
  }

  /** Makes the alarm run at `at` at the latest. */
  private async armAlarm(at: number): Promise<void> {
    const alarm = await this.ctx.storage.getAlarm();
    if (alarm === null || alarm > at) await this.ctx.storage.setAlarm(at);
  }
}

/** The vault of one user. */
export function userVault(env: Env, userId: string): DurableObjectStub<UserVault> {
  return env.USER_VAULT.getByName(userId);
}
