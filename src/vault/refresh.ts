/**
 * One refresh of one connection, as the user's Durable Object runs it (never concurrently for the same
 * connection): the reads and writes around the decisions of ./refresh-policy.ts. The new refresh token is durable in
 * the object's storage before anyone sees the new access token.
 */
import type { AuditDetail } from "../audit/audit-sink";
import { encryptTokenPair } from "../connections/token-pair";
import { needsReauthEvent, recoveredEvent, refreshFailedEvent } from "../events/payloads";
import type { DecryptFailureReason } from "../crypto/token-cipher";
import type { Provider, TokenResult } from "../providers/provider";
import { grantedScopes, joinScopes, parseScopes } from "../scopes";
import { setWriteAheadCopyKey, type ConnectionRow } from "../storage/connections";
import { reconcilePendingWrite, type PendingWrite } from "./pending-writes";
import {
  classifyRefreshFailure,
  decideRefresh,
  reportsFailureStreak,
  type FailureVerdict,
  type RefreshAsk,
  type RefreshFailure,
  type StoredTokens,
} from "./refresh-policy";
import type { VaultServices } from "./vault-services";

/** A refresh as the Worker or the cron asks the user's Durable Object for it. */
export interface RefreshRequest extends RefreshAsk {
  userId: string;
  connectionId: string;
}

export interface VendableToken {
  accessToken: string;
  expiresAt: number | null;
  /** When the token was issued (`null`: unknown); with `expiresAt`, the life it was issued with. */
  issuedAt: number | null;
  scopes: string[];
}

/** Crosses the RPC boundary as a tagged value (error classes do not survive it). */
export type RefreshResult =
  | ({ kind: "token"; refreshed: boolean } & VendableToken)
  | { kind: "needs_reauth" }
  | { kind: "unavailable"; retryAfterSeconds: number; stored: VendableToken | null }
  | { kind: "operator_error" }
  | { kind: "not_found" };

type RecordRefreshAudit = (outcome: "success" | "failure", detail: AuditDetail) => void;

export async function refreshConnection(vault: VaultServices, request: RefreshRequest): Promise<RefreshResult> {
  const row = await reconcilePendingWrite(vault, request.userId, request.connectionId);
  if (!row) return { kind: "not_found" };
  const now = vault.clock();
  const provider = vault.providers.get(row.provider);
  const decision = decideRefresh(
    {
      status: row.status,
      tokens: await readStoredTokens(vault, row),
      lastRefreshedAt: row.lastRefreshedAt,
      refreshBlockedUntil: row.refreshBlockedUntil,
      cooldownClass: row.lastRefreshFailureClass,
      provider: provider?.configured ? provider : null,
    },
    request,
    now,
  );
  const audit = auditFor(vault, request, row);
  switch (decision.kind) {
    case "needs_reauth":
      return { kind: "needs_reauth" };
    case "mark_needs_reauth":
      await markNeedsReauth(vault, row, decision.reason, now);
      audit("failure", { class: "reauth", reason: decision.reason });
      return { kind: "needs_reauth" };
    case "use_stored":
      return { kind: "token", refreshed: false, ...vendable(row, decision.tokens) };
    case "cooling_down":
      // The cooldown answers as the failure that started it did: an operator error stays a 502 until it is over.
      return decision.failureClass === "operator"
        ? { kind: "operator_error" }
        : { kind: "unavailable", retryAfterSeconds: decision.retryAfterSeconds, stored: vendable(row, decision.tokens) };
    case "provider_not_configured":
      return recordFailure(vault, row, decision.tokens, { kind: "provider_not_configured" }, now, audit);
    case "refresh":
      return refreshAtProvider(vault, row, decision.tokens, decision.provider, audit);
  }
}

/** The row's tokens in plain text, or `null` when no key in the ring decrypts one of them. */
async function readStoredTokens(vault: VaultServices, row: ConnectionRow): Promise<StoredTokens | null> {
  const owner = { userId: row.userId, connectionId: row.id };
  const access = await vault.cipher.decrypt(row.accessTokenCiphertext, { ...owner, field: "access_token" });
  if (!access.ok) return unreadable(row, access.reason);
  let refreshToken: string | null = null;
  if (row.refreshTokenCiphertext !== null) {
    const refresh = await vault.cipher.decrypt(row.refreshTokenCiphertext, { ...owner, field: "refresh_token" });
    if (!refresh.ok) return unreadable(row, refresh.reason);
    refreshToken = refresh.plaintext;
  }
  return { accessToken: access.plaintext, expiresAt: row.accessTokenExpiresAt, issuedAt: row.accessTokenIssuedAt, refreshToken };
}

function unreadable(row: ConnectionRow, reason: DecryptFailureReason): null {
  console.error(
    JSON.stringify({
      message: "OPERATOR ACTION NEEDED: a stored token decrypts with no key in the ring",
      connectionId: row.id,
      keyId: row.keyId,
      reason,
    }),
  );
  return null;
}

function vendable(row: ConnectionRow, tokens: StoredTokens): VendableToken {
  return { accessToken: tokens.accessToken, expiresAt: tokens.expiresAt, issuedAt: tokens.issuedAt, scopes: parseScopes(row.scopes) };
}

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
  tokens: StoredTokens & { refreshToken: string },
  provider: Provider,
  audit: RecordRefreshAudit,
): Promise<RefreshResult> {
  const key = { userId: row.userId, connectionId: row.id };
  // Before the provider can answer with a rotated refresh token: D1 records that a write-ahead copy under this key may
  // come to exist, because the copy lives in this object's storage, which nothing outside it can list. The key view
  // counts it and the re-encryption pass visits it; the write that lands the answer (or records the failure) clears it.
  await setWriteAheadCopyKey(vault.db, { userId: row.userId, id: row.id }, vault.cipher.currentKeyId);
  let result: TokenResult;
  try {
    result = await provider.refresh(tokens.refreshToken);
  } catch (error) {
    // Only the name: a provider's error text may quote what it was sent.
    console.error(
      JSON.stringify({ message: "provider refresh threw", provider: row.provider, error: error instanceof Error ? error.name : "unknown" }),
    );
    return recordFailure(vault, row, tokens, { kind: "provider_threw" }, vault.clock(), audit);
  }
  const after = vault.clock();
  if (!result.ok) return recordFailure(vault, row, tokens, { kind: "token_endpoint", failure: result.failure }, after, audit);

  const issued = result.tokens;
  // A response without a refresh token keeps the one held (RFC 6749 §6).
  const encrypted = await encryptTokenPair(vault.cipher, key, {
    accessToken: issued.accessToken,
    refreshToken: issued.refreshToken ?? tokens.refreshToken,
  });
  const granted = parseScopes(row.scopes);
  const scopes = issued.scope === null ? granted : grantedScopes(provider, issued.scope, issued.refreshToken, granted);
  const write: PendingWrite = {
    expectedVersion: row.version,
    update: {
      ...encrypted,
      scopes: joinScopes(scopes),
      accessTokenExpiresAt: issued.expiresIn === null ? null : after + issued.expiresIn * 1000,
      accessTokenIssuedAt: after,
      lastRefreshedAt: after,
      updatedAt: after,
      refreshFailures: 0,
      refreshBlockedUntil: null,
      lastRefreshFailure: null,
      lastRefreshFailureClass: null,
      refreshFailingSince: null,
      refreshFailureReportedAt: null,
      pendingWriteKeyId: null,
    },
  };
  await persist(vault, key, write, issued.refreshToken !== null);
  audit("success", { rotated: issued.refreshToken !== null });
  // The first success after a reported streak; published even when D1 lags behind the write-ahead copy, which holds it.
  if (row.refreshFailureReportedAt !== null) vault.events.publish(recoveredEvent({ ...row, ...write.update, version: row.version + 1 }));
  return {
    kind: "token",
    refreshed: true,
    accessToken: issued.accessToken,
    expiresAt: write.update.accessTokenExpiresAt ?? null,
    issuedAt: after,
    scopes,
  };
}

/** Records a failed refresh on the row as its class says: `needs_reauth`, or a cooldown. */
async function recordFailure(
  vault: VaultServices,
  row: ConnectionRow,
  tokens: StoredTokens,
  failure: RefreshFailure,
  now: number,
  audit: RecordRefreshAudit,
): Promise<RefreshResult> {
  const verdict = classifyRefreshFailure(failure, { failures: row.refreshFailures, lastFailure: row.lastRefreshFailure });
  const status = failure.kind === "token_endpoint" ? failure.failure.status : null;
  // The audit carries the same reason as the row: it is the only place a caller or an operator can read it.
  audit("failure", { class: verdict.failureClass, reason: verdict.reason, status });
  if (verdict.failureClass === "reauth") {
    await markNeedsReauth(vault, row, verdict.reason, now);
    return { kind: "needs_reauth" };
  }
  await coolDown(vault, row, verdict, now);
  if (verdict.failureClass === "operator") {
    console.error(
      JSON.stringify({
        message: "OPERATOR ACTION NEEDED: the provider cannot refresh with this service's configuration",
        provider: row.provider,
        error: verdict.reason,
        status,
      }),
    );
    return { kind: "operator_error" };
  }
  return { kind: "unavailable", retryAfterSeconds: Math.ceil(verdict.cooldownMs / 1000), stored: vendable(row, tokens) };
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

/** Marks the connection `needs_reauth` and tells subscribers, unless another writer changed the row meanwhile. */
async function markNeedsReauth(vault: VaultServices, row: ConnectionRow, reason: string, now: number): Promise<void> {
  const update = {
    status: "needs_reauth" as const,
    statusReason: reason,
    lastRefreshFailure: reason,
    updatedAt: now,
    pendingWriteKeyId: null,
  };
  // A compare-and-swap miss means a reconnect or a removal came first: the row no longer says what this refresh saw.
  if (await vault.writeConnection(vault.db, { userId: row.userId, id: row.id, expectedVersion: row.version }, update)) {
    vault.events.publish(needsReauthEvent({ ...row, ...update, version: row.version + 1 }, reason));
  }
}

/**
 * Records a failed attempt, blocks refreshes for the verdict's cooldown and carries the failure streak on; the attempt
 * that makes the streak worth reporting (`reportsFailureStreak`) tells subscribers, once per streak.
 */
async function coolDown(
  vault: VaultServices,
  row: ConnectionRow,
  verdict: Extract<FailureVerdict, { cooldownMs: number }>,
  now: number,
): Promise<void> {
  const streak = { failingSince: row.refreshFailingSince ?? now, reportedAt: row.refreshFailureReportedAt };
  const reports = reportsFailureStreak(verdict.failureClass, streak, now);
  const update = {
    refreshFailures: row.refreshFailures + 1,
    refreshBlockedUntil: now + verdict.cooldownMs,
    lastRefreshFailure: verdict.reason,
    lastRefreshFailureClass: verdict.failureClass,
    refreshFailingSince: streak.failingSince,
    refreshFailureReportedAt: reports ? now : streak.reportedAt,
    pendingWriteKeyId: null,
  };
  const written = await vault.writeConnection(vault.db, { userId: row.userId, id: row.id, expectedVersion: row.version }, update);
  if (written && reports) vault.events.publish(refreshFailedEvent({ ...row, ...update, version: row.version + 1 }, verdict.reason));
}
