/**
 * The read side of what happened: pages of a user's consent records and of the audit trail, newest first. Who may
 * read which user's history is the route's to decide; this module only reads.
 */
import type { Services } from "./services";
import { listAuditEvents, type AuditQuery } from "./storage/audit-events";
import { listConsents } from "./storage/consents";
import { pageOf, type Page, type PageRequest } from "./storage/pages";
import type { AuditEventRow, ConsentRow } from "./storage/schema";

export async function consentPage(services: Services, userId: string, page: PageRequest): Promise<Page<ConsentRow>> {
  // One row more than the page tells whether another page follows.
  const rows = await listConsents(services.db, { userId, before: page.before, limit: page.limit + 1 });
  return pageOf(rows, page.limit, (row) => ({ at: row.createdAt, id: row.id }));
}

/** `filter`: the user (absent: every user's events), action and time range to read. */
export async function auditPage(
  services: Services,
  filter: Omit<AuditQuery, "before" | "limit">,
  page: PageRequest,
): Promise<Page<AuditEventRow>> {
  const rows = await listAuditEvents(services.db, { ...filter, before: page.before, limit: page.limit + 1 });
  return pageOf(rows, page.limit, (row) => ({ at: row.at, id: row.id }));
}
