/**
 * One refresh of one connection, as the user's Durable Object runs it (never concurrently for the same
 * connection). The new refresh token is durable in the object's storage before anyone sees the new access token.
 */
import { encryptTokenPair } from "../connections/token-pair";
import type { AuditDetail } from "../audit/audit-sink";
import type { Provider } from "../providers/provider";
import { grantedScopes, joinScopes, parseScopes } from "../scopes";
import { findConnection, type ConnectionRow } from "../storage/connections";
import type { PendingWrite } from "./pending-writes";
import { reconcilePendingWrite } from "./pending-writes";
import { classifyRefreshFailure, decideRefresh, type RefreshAsk } from "./refresh-policy";
import type { VaultServices } from "./vault-services";

/** A refresh as the Worker or the cron asks the user's Durable Object for it. */
export interface RefreshRequest extends RefreshAsk {
  userId: string;
  connectionId: string;
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

export async function refreshConnection(vault: VaultServices, request: RefreshRequest): Promise<RefreshResult> {
  const { userId, connectionId } = request;
  await reconcilePendingWrite(vault, userId, connectionId);
  const row = await findConnection(vault.db, { userId, id: connectionId });
  if (!row) return { kind: "not_found" };
  const now = vault.clock();
  const stored = await storedToken(vault, row);
  const provider = vault.providers.get(row.provider);
  const decision = decideRefresh(
    {
      status: row.status,
      accessToken: stored.accessToken,
      expiresAt: stored.expiresAt,
      lastRefreshedAt: row.lastRefreshedAt,
      refreshBlockedUntil: row.refreshBlockedUntil,
      provider: provider?.configured ? provider : null,
      refreshToken: row.refreshTokenCiphertext,
    },
    request,
    now,
  );
  const audit = auditFor(vault, request, row);
  switch (decision.kind) {
    case "needs_reauth":
      return { kind: "needs_reauth" };
    case "use_stored":
      return { kind: "token", refreshed: false, ...stored };
    case "cooling_down":
      return { kind: "unavailable", retryAfterSeconds: decision.retryAfterSeconds, stored };
    case "provider_not_configured":
      console.error(JSON.stringify({ message: "refresh impossible: provider not configured", provider: row.provider }));
      return { kind: "operator_error" };
    case "mark_needs_reauth":
      await markNeedsReauth(vault, row, decision.reason);
      audit("failure", { class: "reauth", reason: decision.reason });
      return { kind: "needs_reauth" };
    case "refresh": {
      const refreshToken = await vault.cipher.decrypt(decision.refreshToken, { userId, connectionId, field: "refresh_token" });
      if (!refreshToken.ok) throw new Error(`stored refresh token cannot be decrypted (${refreshToken.reason})`);
      return refreshAtProvider(vault, row, stored, decision.provider, refreshToken.plaintext, audit);
    }
  }
}

type RecordRefreshAudit = (outcome: "success" | "failure", detail: AuditDetail) => void;

function auditFor(vault: VaultServices, request: RefreshRequest, row: ConnectionRow): RecordRefreshAudit {
  return (outcome, detail) =>
    vault.audit.record({
      userId: row.userId,
      action: outcome === "success" ? "token.refreshed" : "token.refresh_failed",
      outcome,
      provider: row.provider,
      connectionId: row.id,
      detail: { trigger: request.trigger, ...detail },
    });
}

/** The upstream refresh, and what its answer does to the row. */
async function refreshAtProvider(
  vault: VaultServices,
  row: ConnectionRow,
  stored: VendableToken,
  provider: Provider,
  refreshToken: string,
  audit: RecordRefreshAudit,
): Promise<RefreshResult> {
  const key = { userId: row.userId, connectionId: row.id };
  const result = await provider.refresh(refreshToken);
  const after = vault.clock();
  if (result.ok) {
    const tokens = result.tokens;
    const encrypted = await encryptTokenPair(vault.cipher, key, {
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      keptRefreshTokenCiphertext: row.refreshTokenCiphertext,
    });
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
    await persist(vault, key, write, tokens.refreshToken !== null);
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
  const verdict = classifyRefreshFailure(failure, { failures: row.refreshFailures, lastFailure: row.lastRefreshFailure });
  // The audit carries the same reason as the row: it is the only place a caller or an operator can read it.
  audit("failure", { class: verdict.failureClass, reason: verdict.reason, status: failure.status });
  if (verdict.cooldownMs === null) {
    await markNeedsReauth(vault, row, verdict.reason);
    return { kind: "needs_reauth" };
  }
  await coolDown(vault, row, verdict.reason, after + verdict.cooldownMs);
  if (verdict.failureClass === "operator") {
    console.error(
      JSON.stringify({
        message: "OPERATOR ACTION NEEDED: the provider refused our client",
        provider: row.provider,
        error: verdict.reason,
        status: failure.status,
      }),
    );
    return { kind: "operator_error" };
  }
  return { kind: "unavailable", retryAfterSeconds: Math.ceil(verdict.cooldownMs / 1000), stored };
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

/** Records a failed attempt and blocks refreshes until `blockedUntil`. */
async function coolDown(vault: VaultServices, row: ConnectionRow, label: string, blockedUntil: number): Promise<void> {
  await vault.writeConnection(
    vault.db,
    { userId: row.userId, id: row.id, expectedVersion: row.version },
    {
      refreshFailures: row.refreshFailures + 1,
      refreshBlockedUntil: blockedUntil,
      lastRefreshFailure: label,
    },
  );
}
