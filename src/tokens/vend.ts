import type { AuditRecord } from "../audit/audit-sink";
import { missingScopes as scopesMissing, parseScopes } from "../scopes";
import type { Services } from "../services";
import { findConnection } from "../storage/connections";
import type { RefreshRequest, RefreshResult, VendableToken } from "../vault/refresh";
import { isFreshEnough, isUnexpired } from "../vault/refresh-policy";

export interface VendRequest {
  userId: string;
  connectionId: string;
  minValiditySeconds: number;
  forceRefresh: boolean;
  rejectedToken?: string | undefined;
  requiredScopes?: string[] | undefined;
  now: number;
}

export type VendOutcome =
  | ({ kind: "token"; refreshed: boolean; provider: string } & VendableToken)
  | { kind: "not_found" }
  | { kind: "missing_scopes"; missingScopes: string[]; provider: string }
  | { kind: "needs_reauth"; provider: string }
  | { kind: "unavailable"; retryAfterSeconds: number; provider: string }
  | { kind: "operator_error"; provider: string };

/**
 * The vend's audit event (`token.vended`), for its outcome. The hot path's only event: the route sends it to the audit
 * queue after the response (src/audit/audit-sink.ts, `recordAfterResponse`).
 */
export function vendAuditEvent(connectionId: string, outcome: VendOutcome): AuditRecord {
  return {
    action: "token.vended",
    actor: "backend",
    outcome: outcome.kind === "token" ? "success" : "failure",
    provider: outcome.kind === "not_found" ? null : outcome.provider,
    connectionId,
    detail: outcome.kind === "token" ? { refreshed: outcome.refreshed } : { reason: outcome.kind },
  };
}

/** The user's Durable Object refresh (single flight); only called when the stored token does not do. */
export type RefreshThroughVault = (request: RefreshRequest) => Promise<RefreshResult>;

/**
 * A valid access token for the connection. Hot path: one D1 read and one decrypt; otherwise one refresh through the
 * user's Durable Object, shared with every concurrent caller (docs/http-api.md, "Vending outcomes").
 */
export async function vendToken(
  services: Pick<Services, "db" | "cipher">,
  request: VendRequest,
  refresh: RefreshThroughVault,
): Promise<VendOutcome> {
  const row = await findConnection(services.db, { userId: request.userId, id: request.connectionId });
  if (!row) return { kind: "not_found" };
  const provider = row.provider;
  const granted = parseScopes(row.scopes);
  const missingScopes = scopesMissing(request.requiredScopes ?? [], granted);
  if (missingScopes.length > 0) return { kind: "missing_scopes", missingScopes, provider };
  if (row.status === "needs_reauth") return { kind: "needs_reauth", provider };

  const wantsNewToken = request.forceRefresh || request.rejectedToken !== undefined;
  const life = { expiresAt: row.accessTokenExpiresAt, issuedAt: row.accessTokenIssuedAt };
  if (!wantsNewToken && isFreshEnough(life, request.now, request.minValiditySeconds)) {
    const decrypted = await services.cipher.decrypt(row.accessTokenCiphertext, {
      userId: row.userId,
      connectionId: row.id,
      field: "access_token",
    });
    // A token no key decrypts is the user's Durable Object's to classify (it marks the connection needs_reauth).
    if (decrypted.ok) return { kind: "token", refreshed: false, provider, accessToken: decrypted.plaintext, ...life, scopes: granted };
  }

  const result = await refresh({
    userId: request.userId,
    connectionId: request.connectionId,
    trigger: request.forceRefresh ? "force" : request.rejectedToken !== undefined ? "rejected" : "vend",
    minValiditySeconds: request.minValiditySeconds,
    ...(request.rejectedToken !== undefined ? { rejectedToken: request.rejectedToken } : {}),
    requestedAt: request.now,
  });
  switch (result.kind) {
    case "token":
      return { ...result, provider };
    case "not_found":
      return result;
    case "needs_reauth":
    case "operator_error":
      return { kind: result.kind, provider };
    case "unavailable": {
      // The refresh failed transiently: a still-unexpired token beats no token, unless the caller wants a new one.
      const stored = result.stored;
      const usable = stored !== null && !wantsNewToken && isUnexpired(stored.expiresAt, request.now);
      return usable
        ? { kind: "token", refreshed: false, provider, ...stored }
        : { kind: "unavailable", retryAfterSeconds: result.retryAfterSeconds, provider };
    }
  }
}
