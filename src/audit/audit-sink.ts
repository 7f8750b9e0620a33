/**
 * The one way events reach the audit trail. Every invocation (a request, a Durable Object call, a cron task) owns a
 * sink and hands over what it collected itself: nothing is shared across invocations, because the runtime cancels
 * work tied to an invocation and a promise it cancelled never settles.
 */
import { randomId } from "../crypto/random";
import { insertAuditEvents, type AuditDetail, type AuditEventRecord } from "../storage/audit-events";
import type { Database } from "../storage/database";
import { sendAuditEvents } from "./audit-queue";

export type { AuditDetail };

/** Who acted: the signed-in user, the application's backend (vending), the cron, or an unauthenticated client. */
export type AuditActor = "user" | "backend" | "cron" | "anonymous";

export type AuditAction =
  | "auth.failed"
  | "rate_limited"
  | "authorization.started"
  | "authorization.start_url_refused"
  | "authorization.callback"
  | "authorization.verification"
  | "token.vended"
  | "token.refreshed"
  | "token.refresh_failed"
  | "token.revoked"
  | "connection.read"
  | "connection.removed"
  | "integration.activated"
  | "integration.authorization_required"
  | "integration.deactivated"
  | "user.erased"
  | "keys.re_encrypted"
  | "vault.job_dead_lettered"
  | "webhook.disabled"
  | "webhook.created"
  | "webhook.updated"
  | "webhook.deleted"
  | "webhook.secret_rotated"
  | "webhook.test_requested";

export interface AuditRecord {
  action: AuditAction;
  outcome: "success" | "failure";
  /** Defaults to the sink's user (the authenticated caller, the object's user). */
  userId?: string | null;
  actor?: AuditActor;
  provider?: string | null;
  connectionId?: string | null;
  /** Codes and counts only: never a token, secret or provider message. */
  detail?: AuditDetail;
}

export interface AuditOrigin {
  requestId: string | null;
  ip: string | null;
  userId: string | null;
  actor: AuditActor;
}

/** The request an event follows from; handed to the user's vault so its events carry the same request id and address. */
export type AuditTrace = Pick<AuditOrigin, "requestId" | "ip">;

/** Work no request asked for (the cron, the object's alarm). */
export const NO_TRACE: AuditTrace = { requestId: null, ip: null };

/** The cron's tasks, and the queue consumers that carry its scans and jobs on. */
export const CRON_ORIGIN: AuditOrigin = { ...NO_TRACE, userId: null, actor: "cron" };

export class AuditSink {
  readonly #beforeResponse: AuditEventRecord[] = [];
  readonly #afterResponse: AuditEventRecord[] = [];
  readonly #origin: AuditOrigin;

  constructor(
    private readonly db: Database,
    /** The audit queue (`AUDIT_QUEUE`), which the hot path's events go through. */
    private readonly queue: Queue,
    origin: AuditOrigin,
    private readonly clock: () => number,
  ) {
    this.#origin = { ...origin };
  }

  /** Who the following events are about (set once the caller or the flow's user is known). */
  attribute(userId: string, actor: AuditActor): void {
    this.#origin.userId = userId;
    this.#origin.actor = actor;
  }

  /** The request this sink's events follow from. */
  trace(): AuditTrace {
    return { requestId: this.#origin.requestId, ip: this.#origin.ip };
  }

  /** An event written before the invocation answers (lifecycle changes: visible as soon as the caller sees the result). */
  record(event: AuditRecord): void {
    this.#beforeResponse.push(this.#complete(event));
  }

  /**
   * An event of the hot path (`token.vended`): sent to the audit queue after the response, and written by the queue's
   * consumer with others in one D1 round trip, so the vend pays for no audit write (src/audit/audit-queue.ts).
   */
  recordAfterResponse(event: AuditRecord): void {
    this.#afterResponse.push(this.#complete(event));
  }

  /** Writes the events recorded with `record`; a failed write is logged, never thrown (the operation itself succeeded). */
  flush(): Promise<void> {
    return handOver(this.#beforeResponse.splice(0), "audit write failed", (events) => insertAuditEvents(this.db, events));
  }

  /**
   * Sends the events recorded with `recordAfterResponse` to the audit queue; hand the promise to this invocation's
   * `waitUntil`, so the response does not wait for it. A failed send is logged, never thrown.
   */
  flushAfterResponse(): Promise<void> {
    return handOver(this.#afterResponse.splice(0), "audit send failed", (events) => sendAuditEvents(this.queue, events));
  }

  /** The event as stored, its id made now: a queue may deliver it twice, and the second write must change nothing. */
  #complete(event: AuditRecord): AuditEventRecord {
    return {
      id: randomId("evt_"),
      at: this.clock(),
      userId: event.userId === undefined ? this.#origin.userId : event.userId,
      actor: event.actor ?? this.#origin.actor,
      action: event.action,
      provider: event.provider ?? null,
      connectionId: event.connectionId ?? null,
      outcome: event.outcome,
      requestId: this.#origin.requestId,
      ip: this.#origin.ip,
      detail: event.detail ?? {},
    };
  }
}

/** Hands `events` to `deliver`; a failure is logged with the number of events lost, never thrown. */
async function handOver(
  events: AuditEventRecord[],
  failure: string,
  deliver: (events: AuditEventRecord[]) => Promise<void>,
): Promise<void> {
  if (events.length === 0) return;
  try {
    await deliver(events);
  } catch (error) {
    console.error(JSON.stringify({ message: failure, events: events.length, error: error instanceof Error ? error.name : typeof error }));
  }
}
