import { DurableObject } from "cloudflare:workers";
import { NO_TRACE, type AuditActor, type AuditTrace } from "../audit/audit-sink";
import { createServices, type Services } from "../services";
import { openFlowTokens, revokeHeldFlow, type HeldFlow } from "./held-flow";
import { userVault } from "./user-vault";

/**
 * Stored keys in this object's storage (one object per held flow, named by the SHA-256 of its flow_id):
 *   `held` -> HeldFlow (./held-flow.ts): the completed authorization, its tokens as ciphertext, until its user verifies
 *     it, another user's verification discards it, or its expiry (the alarm) discards it.
 *   `verified` -> VerifiedFlow: the answer given to the flow's user, repeated to that user until its expiry.
 * At most one of the two is stored; the alarm is set to its expiry, and when it runs the object is empty again.
 */
const HELD_KEY = "held";
const VERIFIED_KEY = "verified";

/** How long the answer of a verification is repeated to the same user (an application retrying a lost response). */
const VERIFIED_ANSWER_TTL_MS = 10 * 60 * 1000;

interface VerifiedFlow {
  userId: string;
  provider: string;
  connectionId: string;
  returnTo: string | null;
  missingScopes: string[];
  expiresAt: number;
}

/** Why a flow is not (or no longer) there for the caller. */
export type FlowNotFoundReason = "unknown" | "expired" | "user_erased" | "undecryptable";

export type FlowVerification =
  | { kind: "verified"; provider: string; connectionId: string; returnTo: string | null; missingScopes: string[]; repeated: boolean }
  /** Another user's flow: discarded now (`discarded`), or already verified by its own user and left alone. */
  | { kind: "other_user"; provider: string; discarded: boolean }
  | { kind: "not_found"; reason: FlowNotFoundReason };

/**
 * One flow held for verification (`CONNECT_VERIFY_URL`). Named by the hash of its flow_id, so the application's call
 * finds it from the flow_id alone, in whichever location it runs, and reads it strongly consistent: KV could serve a
 * stale or missing copy, and an index would need listing.
 *
 * Every decision (a verification, the expiry) runs alone, in arrival order: a Durable Object interleaves events while
 * one awaits I/O (the user's vault, D1, the provider), so without that two calls could both find the flow held. The
 * first call to reach the flow decides: its own user's verification stores the connection (and later calls of that
 * user get the same answer, other users a 403 that changes nothing); another user's verification discards it (and
 * every later call gets 404); an expiry that comes first discards it too.
 */
export class UnverifiedFlow extends DurableObject<Env> {
  /** Settles when the decision under way has settled. */
  private decisions: Promise<void> = Promise.resolve();

  /** Holds a completed authorization until `flow.expiresAt`. */
  async hold(flow: HeldFlow): Promise<void> {
    return this.decide(async () => {
      // Flow ids are 128 random bits: an object already in use means a bug, never a collision to overwrite.
      const [held, verified] = await Promise.all([this.stored<HeldFlow>(HELD_KEY), this.stored<VerifiedFlow>(VERIFIED_KEY)]);
      if (held || verified) throw new Error("unverified flow: this flow is already held");
      await Promise.all([this.ctx.storage.put(HELD_KEY, flow), this.ctx.storage.setAlarm(flow.expiresAt)]);
    });
  }

  /**
   * `userId` (the caller's JWT `sub`) verifies the flow: the flow's own user gets its connection stored through the
   * user's vault, exactly as the callback stores one without verification; another user discards it and its grant is
   * revoked upstream, unless another connection holds that grant.
   */
  async verify(userId: string, trace: AuditTrace = NO_TRACE): Promise<FlowVerification> {
    return this.decide(async () => {
      const now = Date.now();
      const verified = await this.stored<VerifiedFlow>(VERIFIED_KEY);
      if (verified) {
        if (verified.userId !== userId) return { kind: "other_user", provider: verified.provider, discarded: false };
        const { provider, connectionId, returnTo, missingScopes } = verified;
        return { kind: "verified", provider, connectionId, returnTo, missingScopes, repeated: true };
      }
      const held = await this.stored<HeldFlow>(HELD_KEY);
      if (!held) return { kind: "not_found", reason: "unknown" };
      const owner = held.authorization.userId;
      // The alarm may run late; a flow past its expiry is discarded by whoever finds it first.
      if (held.expiresAt <= now) {
        await this.withServices(owner, "user", trace, (services) => this.discard(services, held, "expired"));
        return { kind: "not_found", reason: "expired" };
      }
      if (owner !== userId) {
        await this.withServices(owner, "user", trace, (services) => this.discard(services, held, "other_user"));
        return { kind: "other_user", provider: held.authorization.provider, discarded: true };
      }
      return this.withServices(owner, "user", trace, (services) => this.release(services, held, now, trace));
    });
  }

  /** The flow's time is up: an unverified flow is discarded and revoked, a verified one's answer forgotten. */
  override async alarm(): Promise<void> {
    return this.decide(async () => {
      const held = await this.stored<HeldFlow>(HELD_KEY);
      if (held) await this.withServices(held.authorization.userId, "cron", NO_TRACE, (services) => this.discard(services, held, "expired"));
      else await this.forget();
    });
  }

  /** Stores the flow's connection through its user's vault and keeps the answer for the user's repeats. */
  private async release(services: Services, held: HeldFlow, now: number, trace: AuditTrace): Promise<FlowVerification> {
    const { authorization } = held;
    const tokens = await openFlowTokens(services.cipher, held);
    if (tokens === null) {
      console.error(JSON.stringify({ message: "held flow tokens do not decrypt", provider: authorization.provider }));
      await this.discard(services, held, "undecryptable");
      return { kind: "not_found", reason: "undecryptable" };
    }
    // The user's vault orders this write against an erasure of the user: a flow begun before one is refused, and the
    // vault revokes its tokens (unless another connection holds their grant). The write keeps the callback's time, so
    // the access token's expiry counts from when the provider issued it.
    const completed = await userVault(this.env, authorization.userId).completeAuthorization({ ...authorization, tokens }, trace);
    if (completed.kind === "ended_by_erasure") {
      await this.forget();
      return { kind: "not_found", reason: "user_erased" };
    }
    const answer: VerifiedFlow = {
      userId: authorization.userId,
      provider: authorization.provider,
      connectionId: completed.connection.id,
      returnTo: held.returnTo,
      missingScopes: authorization.missingScopes,
      expiresAt: now + VERIFIED_ANSWER_TTL_MS,
    };
    // Issued together without an await between them, so the runtime commits them atomically.
    await Promise.all([
      this.ctx.storage.put(VERIFIED_KEY, answer),
      this.ctx.storage.delete(HELD_KEY),
      this.ctx.storage.setAlarm(answer.expiresAt),
    ]);
    const { provider, connectionId, returnTo, missingScopes } = answer;
    return { kind: "verified", provider, connectionId, returnTo, missingScopes, repeated: false };
  }

  /**
   * Forgets the flow first (nothing can verify it any more, whatever the provider does), records why on the flow's
   * user's history, then revokes its grant.
   */
  private async discard(services: Services, held: HeldFlow, reason: "other_user" | "expired" | "undecryptable"): Promise<void> {
    await this.forget();
    services.audit.record({
      action: "authorization.verification",
      outcome: "failure",
      provider: held.authorization.provider,
      detail: { reason, discarded: true },
    });
    await revokeHeldFlow(services, held);
  }

  private async forget(): Promise<void> {
    await this.ctx.storage.deleteAll();
    await this.ctx.storage.deleteAlarm();
  }

  private stored<T>(key: string): Promise<T | undefined> {
    return this.ctx.storage.get<T>(key);
  }

  /** Runs `task` once every earlier decision has settled. */
  private decide<T>(task: () => Promise<T>): Promise<T> {
    const run = this.decisions.then(task);
    this.decisions = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Runs `task` with this call's services, attributed to the flow's user, and writes the audit events it recorded. */
  private async withServices<T>(
    userId: string,
    actor: AuditActor,
    trace: AuditTrace,
    task: (services: Services) => Promise<T>,
  ): Promise<T> {
    const services = createServices(this.env, { ...trace, userId, actor });
    try {
      return await task(services);
    } finally {
      await services.audit.flush();
    }
  }
}

/** The object holding the flow whose flow_id hashes to `flowKey`. */
export function unverifiedFlow(env: Env, flowKey: string): DurableObjectStub<UnverifiedFlow> {
  return env.UNVERIFIED_FLOW.getByName(flowKey);
}
