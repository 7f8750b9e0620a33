/**
 * One refresh of one connection, as the user's Durable Object runs it (never concurrently for the same
 * connection). The new refresh token is durable in the object's storage before anyone sees the new access token.
 */
import { encryptTokenPair } from "../connections/token-pair";
import type { AuditDetail } from "../audit/audit-sink";
import { grantedScopes, joinScopes, parseScopes } from "../scopes";
import { findConnection, type ConnectionRow } from "../storage/connections";
import type { PendingWrite } from "./pending-writes";
import { reconcilePendingWrite } from "./pending-writes";
import { classifyFailure, cooldownMs, failureLabel, isFreshEnough, isUnexpired, mayHaveReachedProvider } from "./refresh-policy";
import type { VaultServices } from "./vault-services";

export type RefreshTrigger = "vend" | "force" | "rejected" | "cron";

export interface RefreshRequest {
  userId: string;
  connectionId: string;
  trigger: RefreshTrigger;
  /** Seconds the token must stay valid for the stored one to be good enough (`vend`, `cron`). */
  minValiditySeconds: number;
  /** The access token a provider just refused (`rejected`). */
  rejectedToken?: string;
  /** When the caller asked; a refresh finished after it satisfies a `force` request. */
  requestedAt: number;
}

export interface VendableToken {
  accessToken: string;
  expiresAt: number | null;
  scopes: string[];
}

/** Crosses the RPC boundary as a tagged value (error classes do not survive it). */
export type RefreshResult =
  | ({ kind: "token"; refreshed: boolean } & VendableToken)
  | { kind: "needs_reauth" }
  | { kind: "unavailable"; retryAfterSeconds: number; stored: VendableToken | null }
  | { kind: "operator_error" }
  | { kind: "not_found" };

async function storedToken(vault: VaultServices, row: ConnectionRow): Promise<VendableToken> {
  const decrypted = await vault.cipher.decrypt(row.accessTokenCiphertext, {
    userId: row.userId,
    connectionId: row.id,
    field: "access_token",
  });
  if (!decrypted.ok) throw new Error(`stored access token cannot be decrypted (${decrypted.reason})`);
  return { accessToken: decrypted.plaintext, expiresAt: row.accessTokenExpiresAt, scopes: parseScopes(row.scopes) };
}

/** Whether the stored token already answers this request, so no upstream call is needed. */
function storedTokenSuffices(row: ConnectionRow, stored: VendableToken, request: RefreshRequest, now: number): boolean {
  switch (request.trigger) {
    case "rejected":
      // Another caller's report already led to a refresh: the token they rejected is gone.
      return stored.accessToken !== request.rejectedToken && isUnexpired(stored.expiresAt, now);
    case "force":
      return row.lastRefreshedAt !== null && row.lastRefreshedAt >= request.requestedAt;
    case "vend":
      return isFreshEnough(stored.expiresAt, now, request.minValiditySeconds);
    case "cron":
      // The cron only selects known expiries; an unknown one is never refreshed on a schedule.
      return stored.expiresAt === null || isFreshEnough(stored.expiresAt, now, request.minValiditySeconds);
  }
}

export async function refreshConnection(vault: VaultServices, request: RefreshRequest): Promise<RefreshResult> {
  const { userId, connectionId } = request;
  await reconcilePendingWrite(vault, userId, connectionId);
  const row = await findConnection(vault.db, { userId, id: connectionId });
  if (!row) return { kind: "not_found" };
  if (row.status === "needs_reauth") return { kind: "needs_reauth" };
  const now = vault.clock();
  const stored = await storedToken(vault, row);
  if (storedTokenSuffices(row, stored, request, now)) return { kind: "token", refreshed: false, ...stored };
  if (row.refreshBlockedUntil !== null && row.refreshBlockedUntil > now) {
    return { kind: "unavailable", retryAfterSeconds: Math.ceil((row.refreshBlockedUntil - now) / 1000), stored };
  }
  const provider = vault.providers.get(row.provider);
  if (!provider?.configured) {
    console.error(JSON.stringify({ message: "refresh impossible: provider not configured", provider: row.provider }));
    return { kind: "operator_error" };
  }
  const audit = (outcome: "success" | "failure", detail: AuditDetail) =>
    vault.audit.record({
      userId,
      action: outcome === "success" ? "token.refreshed" : "token.refresh_failed",
      outcome,
      provider: row.provider,
      connectionId,
      detail: { trigger: request.trigger, ...detail },
    });

  if (row.refreshTokenCiphertext === null) {
    await markNeedsReauth(vault, row, "no_refresh_token");
    audit("failure", { class: "reauth", reason: "no_refresh_token" });
    return { kind: "needs_reauth" };
  }
  const refreshToken = await vault.cipher.decrypt(row.refreshTokenCiphertext, { userId, connectionId, field: "refresh_token" });
  if (!refreshToken.ok) throw new Error(`stored refresh token cannot be decrypted (${refreshToken.reason})`);

  const result = await provider.refresh(refreshToken.plaintext);
  const after = vault.clock();
  if (result.ok) {
    const tokens = result.tokens;
    const encrypted = await encryptTokenPair(
      vault.cipher,
      { userId, connectionId },
      {
        accessToken: tokens.accessToken,
        refreshToken: tokens.refreshToken,
        keptRefreshTokenCiphertext: row.refreshTokenCiphertext,
      },
    );
    const scopes =
      tokens.scope === null ? parseScopes(row.scopes) : grantedScopes(provider, tokens.scope, tokens.refreshToken, parseScopes(row.scopes));
    const write: PendingWrite = {
      expectedVersion: row.version,
      update: {
        ...encrypted,
        scopes: joinScopes(scopes),
        accessTokenExpiresAt: tokens.expiresIn === null ? null : after + tokens.expiresIn * 1000,
        lastRefreshedAt: after,
        updatedAt: after,
        refreshFailures: 0,
        refreshBlockedUntil: null,
        lastRefreshFailure: null,
      },
    };
    await persist(vault, { userId, connectionId }, write, tokens.refreshToken !== null);
    audit("success", { rotated: tokens.refreshToken !== null });
    return {
      kind: "token",
      refreshed: true,
      accessToken: tokens.accessToken,
      expiresAt: write.update.accessTokenExpiresAt ?? null,
      scopes,
    };
  }

  const failure = result.failure;
  const failureClass = classifyFailure(failure);
  const label = failureLabel(failure);
  // A lost response after the provider rotated cannot be recovered: the old token is dead (RFC 9700 §4.14.2).
  // The audit carries the same reason as the row: it is the only place a caller or an operator can read it.
  const reason = failureClass === "reauth" && mayHaveReachedProvider(row.lastRefreshFailure) ? `${label}_after_lost_response` : label;
  audit("failure", { class: failureClass, reason, status: failure.status });
  switch (failureClass) {
    case "reauth": {
      await markNeedsReauth(vault, row, reason);
      return { kind: "needs_reauth" };
    }
    case "operator": {
      console.error(
        JSON.stringify({
          message: "OPERATOR ACTION NEEDED: the provider refused our client",
          provider: row.provider,
          error: label,
          status: failure.status,
        }),
      );
      await coolDown(vault, row, label, failure.retryAfterSeconds, after);
      return { kind: "operator_error" };
    }
    case "transient": {
      const retryAfterSeconds = await coolDown(vault, row, label, failure.retryAfterSeconds, after);
      return { kind: "unavailable", retryAfterSeconds, stored };
    }
  }
}

/** Write-ahead for rotated refresh tokens, then D1; a failed D1 write is reconciled on the next access. */
async function persist(
  vault: VaultServices,
  key: { userId: string; connectionId: string },
  write: PendingWrite,
  rotated: boolean,
): Promise<void> {
  if (rotated) await vault.pendingWrites.put(key.connectionId, write);
  try {
    // A compare-and-swap miss means a reconnect or a removal changed the row meanwhile; its tokens supersede these.
    await vault.writeConnection(
      vault.db,
      { userId: key.userId, id: key.connectionId, expectedVersion: write.expectedVersion },
      write.update,
    );
  } catch (error) {
    console.error(
      JSON.stringify({
        message: "D1 write failed; refreshed tokens kept in the write-ahead copy",
        connectionId: key.connectionId,
        error: error instanceof Error ? error.name : "unknown",
      }),
    );
    if (!rotated) await vault.pendingWrites.put(key.connectionId, write);
    return;
  }
  if (rotated) await vault.pendingWrites.delete(key.connectionId);
}

async function markNeedsReauth(vault: VaultServices, row: ConnectionRow, reason: string): Promise<void> {
  const now = vault.clock();
  await vault.writeConnection(
    vault.db,
    { userId: row.userId, id: row.id, expectedVersion: row.version },
    {
      status: "needs_reauth",
      statusReason: reason,
      lastRefreshFailure: reason,
      updatedAt: now,
    },
  );
}

/** Records a failed attempt and blocks refreshes for the backoff; returns the seconds to wait. */
async function coolDown(
  vault: VaultServices,
  row: ConnectionRow,
  label: string,
  retryAfterSeconds: number | null,
  now: number,
): Promise<number> {
  const failures = row.refreshFailures + 1;
  const waitMs = cooldownMs(failures, retryAfterSeconds);
  await vault.writeConnection(
    vault.db,
    { userId: row.userId, id: row.id, expectedVersion: row.version },
    {
      refreshFailures: failures,
      refreshBlockedUntil: now + waitMs,
      lastRefreshFailure: label,
    },
  );
  return Math.ceil(waitMs / 1000);
}
