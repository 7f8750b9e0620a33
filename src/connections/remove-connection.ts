import type { RequestAudit } from "../audit/request-audit";
import { deleteConnection, findConnection } from "../storage/connections";
import { recordConsent } from "../storage/consents";
import type { Database } from "../storage/database";

export interface RemoveConnectionRequest {
  userId: string;
  id: string;
  ip: string | null;
  userAgent: string | null;
}

/** Wipes a connection's tokens and removes it, recording the consent withdrawal. False when it was not the user's. */
export async function removeConnection(
  deps: { db: Database; audit: RequestAudit; now?: number },
  request: RemoveConnectionRequest,
): Promise<boolean> {
  const { db, audit } = deps;
  const row = await findConnection(db, request);
  if (!row || !(await deleteConnection(db, request))) {
    audit.defer({ action: "connection.removed", outcome: "failure", connectionId: request.id, detail: { reason: "not_found" } });
    return false;
  }
  await recordConsent(db, {
    userId: request.userId,
    connectionId: row.id,
    provider: row.provider,
    kind: "withdrawal",
    scopes: row.scopes,
    missingScopes: "",
    integration: null,
    ip: request.ip,
    userAgent: request.userAgent,
    createdAt: deps.now ?? Date.now(),
  });
  audit.defer({ action: "connection.removed", outcome: "success", provider: row.provider, connectionId: row.id });
  return true;
}
