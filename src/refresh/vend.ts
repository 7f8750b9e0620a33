import { splitScopes } from "../connections/present";
import type { TokenCipher } from "../crypto/token-cipher";
import { findConnection } from "../storage/connections";
import type { Database } from "../storage/database";
import { isFreshEnough, isUnexpired } from "./policy";
import type { RefreshRequest, RefreshResult, VendableToken } from "./refresh-connection";

export interface VendRequest {
  userId: string;
  connectionId: string;
  minValiditySeconds: number;
  forceRefresh: boolean;
  rejectedToken?: string | undefined;
  requiredScopes?: string[] | undefined;
}

export type VendOutcome =
  | ({ kind: "token"; refreshed: boolean; provider: string } & VendableToken)
  | { kind: "not_found" }
  | { kind: "missing_scopes"; missingScopes: string[]; provider: string }
  | { kind: "needs_reauth"; provider: string }
  | { kind: "unavailable"; retryAfterSeconds: number; provider: string }
  | { kind: "operator_error"; provider: string };

export interface VendDependencies {
  db: Database;
  cipher: TokenCipher;
  now: number;
  /** The user's Durable Object refresh (single flight); only called when the stored token does not do. */
  refresh: (request: RefreshRequest) => Promise<RefreshResult>;
}

/**
 * A valid access token for the connection. Hot path: one D1 read and one decrypt; otherwise one refresh through the
 * user's Durable Object, shared with every concurrent caller (DESIGN.md, "Vending outcomes").
 */
export async function vendToken(deps: VendDependencies, request: VendRequest): Promise<VendOutcome> {
  const row = await findConnection(deps.db, { userId: request.userId, id: request.connectionId });
  if (!row) return { kind: "not_found" };
  const provider = row.provider;
  const granted = splitScopes(row.scopes);
  const missingScopes = (request.requiredScopes ?? []).filter((scope) => !granted.includes(scope));
  if (missingScopes.length > 0) return { kind: "missing_scopes", missingScopes, provider };
  if (row.status === "needs_reauth") return { kind: "needs_reauth", provider };

  const wantsNewToken = request.forceRefresh || request.rejectedToken !== undefined;
  if (!wantsNewToken && isFreshEnough(row.accessTokenExpiresAt, deps.now, request.minValiditySeconds)) {
    const decrypted = await deps.cipher.decrypt(row.accessTokenCiphertext, {
      userId: row.userId,
      connectionId: row.id,
      field: "access_token",
    });
    if (!decrypted.ok) throw new Error(`stored access token cannot be decrypted (${decrypted.reason})`);
    return {
      kind: "token",
      refreshed: false,
      provider,
      accessToken: decrypted.plaintext,
      expiresAt: row.accessTokenExpiresAt,
      scopes: granted,
    };
  }

  const result = await deps.refresh({
    userId: request.userId,
    connectionId: request.connectionId,
    trigger: request.forceRefresh ? "force" : request.rejectedToken !== undefined ? "rejected" : "vend",
    minValiditySeconds: request.minValiditySeconds,
    ...(request.rejectedToken !== undefined ? { rejectedToken: request.rejectedToken } : {}),
    requestedAt: deps.now,
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
      const usable = stored !== null && !wantsNewToken && isUnexpired(stored.expiresAt, deps.now);
      return usable
        ? { kind: "token", refreshed: false, provider, ...stored }
        : { kind: "unavailable", retryAfterSeconds: result.retryAfterSeconds, provider };
    }
  }
}
