import { parseScopes } from "../scopes";
import type { ConnectionRow } from "../storage/schema";

/** A connection as callers see it: never a token. */
export interface ConnectionView {
  id: string;
  provider: string;
  status: "active" | "needs_reauth";
  /** Why the connection needs re-authorization (a reason code, never provider text); `null` while active. */
  status_reason: string | null;
  account: { id: string; email?: string; name?: string };
  scopes: string[];
  access_token_expires_at: string | null;
  created_at: string;
  updated_at: string;
  last_refreshed_at: string | null;
}

export function isoTime(millis: number | null): string | null {
  return millis === null ? null : new Date(millis).toISOString();
}

export function presentConnection(row: ConnectionRow): ConnectionView {
  return {
    id: row.id,
    provider: row.provider,
    status: row.status,
    status_reason: row.status === "active" ? null : (row.statusReason ?? null),
    account: {
      id: row.accountId,
      ...(row.accountEmail ? { email: row.accountEmail } : {}),
      ...(row.accountName ? { name: row.accountName } : {}),
    },
    scopes: parseScopes(row.scopes),
    access_token_expires_at: isoTime(row.accessTokenExpiresAt),
    created_at: new Date(row.createdAt).toISOString(),
    updated_at: new Date(row.updatedAt).toISOString(),
    last_refreshed_at: isoTime(row.lastRefreshedAt),
  };
}
