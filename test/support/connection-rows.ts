/**
 * Connection rows as the service stores them, built outside the service, in workerd and in Node: tests seed them
 * straight into D1, the bench renders them as SQL for `wrangler d1 execute`. The tokens are encrypted as the service
 * encrypts them (`encryptTokenPair`, for their row, user and field) with the cipher given, so it decrypts them as its own.
 */
import { encryptTokenPair } from "../../src/connections/token-pair";
import type { TokenCipher } from "../../src/crypto/token-cipher";
import type { ConnectionRow } from "../../src/storage/connections";

export interface ConnectionRowOptions {
  /** Default: `conn_seed_<uuid>`. */
  id?: string;
  userId: string;
  provider?: string;
  /** Default: `acct-<id>`. */
  accountId?: string;
  accountEmail?: string | null;
  /** Default: `at-<id>`. */
  accessToken?: string;
  /** Default: `rt-<id>`; `null`: no refresh token. */
  refreshToken?: string | null;
  /** Epoch ms; `null`: unknown expiry. Default: an hour after `now`. */
  expiresAt?: number | null;
  /** When the access token was issued (epoch ms). Default: `null` (unknown). */
  issuedAt?: number | null;
  status?: "active" | "needs_reauth";
  refreshBlockedUntil?: number | null;
  /** Space-separated, as stored. */
  scopes?: string;
  /** When the row was created and last updated (epoch ms). */
  now: number;
}

/** A row as the service would store it after connecting the account. */
export async function connectionRow(cipher: TokenCipher, options: ConnectionRowOptions): Promise<ConnectionRow> {
  const id = options.id ?? `conn_seed_${crypto.randomUUID()}`;
  const tokens = {
    accessToken: options.accessToken ?? `at-${id}`,
    refreshToken: options.refreshToken === undefined ? `rt-${id}` : options.refreshToken,
  };
  return {
    id,
    userId: options.userId,
    provider: options.provider ?? "google",
    accountId: options.accountId ?? `acct-${id}`,
    accountEmail: options.accountEmail ?? null,
    accountName: null,
    status: options.status ?? "active",
    statusReason: options.status === "needs_reauth" ? "invalid_grant" : null,
    scopes: options.scopes ?? "openid email",
    ...(await encryptTokenPair(cipher, { userId: options.userId, connectionId: id }, tokens)),
    accessTokenExpiresAt: options.expiresAt === undefined ? options.now + 3_600_000 : options.expiresAt,
    accessTokenIssuedAt: options.issuedAt ?? null,
    version: 1,
    createdAt: options.now,
    updatedAt: options.now,
    lastRefreshedAt: null,
    refreshFailures: 0,
    refreshBlockedUntil: options.refreshBlockedUntil ?? null,
    lastRefreshFailure: null,
    lastRefreshFailureClass: null,
    pendingWriteKeyId: null,
    reEncryptFailures: 0,
    reEncryptBlockedUntil: null,
    refreshEnqueuedAt: null,
    refreshFailingSince: null,
    refreshFailureReportedAt: null,
    grantKey: null,
  };
}
