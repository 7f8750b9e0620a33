import { insertAuditEvents, type AuditDetail, type NewAuditEvent } from "../storage/audit-events";
import type { Database } from "../storage/database";

export interface AuditEventInput {
  action: string;
  outcome: "success" | "failure";
  userId?: string | null;
  actor?: string;
  provider?: string | null;
  connectionId?: string | null;
  detail?: AuditDetail;
}

export interface AuditOrigin {
  requestId: string | null;
  ip: string | null;
  actor: string;
  userId: string | null;
}

/** Collects one request's audit events and writes them in one batch when the request ends. */
export class RequestAudit {
  private readonly pending: NewAuditEvent[] = [];

  constructor(
    private readonly db: Database,
    private readonly origin: AuditOrigin,
    private readonly now: () => number = Date.now,
  ) {}

  /** Who the events are about from now on (set once the caller is authenticated). */
  attribute(userId: string, actor: string): void {
    this.origin.userId = userId;
    this.origin.actor = actor;
  }

  defer(event: AuditEventInput): void {
    this.pending.push({
      at: this.now(),
      userId: event.userId === undefined ? this.origin.userId : event.userId,
      actor: event.actor ?? this.origin.actor,
      action: event.action,
      provider: event.provider ?? null,
      connectionId: event.connectionId ?? null,
      outcome: event.outcome,
      requestId: this.origin.requestId,
      ip: this.origin.ip,
      detail: event.detail ?? {},
    });
  }

  async flush(): Promise<void> {
    const events = this.pending.splice(0);
    await insertAuditEvents(this.db, events);
  }
}
