import type { TokenCipher } from "../crypto/token-cipher";
import { randomId } from "../crypto/random";
import { type ConsentClient, type ConsentKind, recordConsent } from "../storage/consents";
import { authorizationEvents } from "../events/payloads";
import { completeIntegrationActivation } from "../integrations/activation-record";
import type { AccountIdentity, TokenSet } from "../providers/provider";
import { joinScopes, parseScopes } from "../scopes";
import type { Services } from "../services";
import { findConnectionByAccount, insertConnection, updateConnection, type ConnectionRow } from "../storage/connections";
import type { Database } from "../storage/database";
import { encryptTokenPair, usableRefreshToken } from "./token-pair";

export interface AuthorizedConnection {
  userId: string;
  provider: string;
  account: AccountIdentity;
  /** The grant the tokens belong to when connections can share one (`ConnectionRow.grantKey`), else `null`. */
  grantKey: string | null;
  tokens: Pick<TokenSet, "accessToken" | "refreshToken" | "expiresIn">;
  /** Normalised scopes the provider granted. */
  scopes: string[];
  now: number;
}

/** A completed authorization as the callback hands it to the user's vault. */
export interface CompletedAuthorization extends AuthorizedConnection {
  /** Requested scopes the provider did not grant (normalised). */
  missingScopes: string[];
  /** The integration whose activation began the authorization, if any. */
  integration: string | null;
  client: ConsentClient;
}

export interface SavedConnection {
  row: ConnectionRow;
  /** The connection as it was before this authorization, when it already existed. */
  previous: ConnectionRow | null;
}

/** Concurrent callbacks for one account race on the unique key or the row version; a few retries settle it. */
const MAX_ATTEMPTS = 3;

/**
 * Stores a completed authorization: one connection per user, provider and account, updated in place
 * (which heals `needs_reauth`). Tokens are encrypted for the row's id before they are written.
 */
export async function saveAuthorizedConnection(db: Database, cipher: TokenCipher, input: AuthorizedConnection): Promise<SavedConnection> {
  const { userId, provider, account, tokens, now } = input;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const previous = await findConnectionByAccount(db, { userId, provider, accountId: account.id });
    const id = previous?.id ?? randomId("conn_");
    const encrypted = await encryptTokenPair(
      cipher,
      { userId, connectionId: id },
      {
        accessToken: tokens.accessToken,
        // A response without a refresh token keeps the one already held, if any key in the ring still reads it.
        refreshToken: tokens.refreshToken ?? (previous ? await usableRefreshToken(cipher, previous) : null),
      },
    );
    const fields = {
      grantKey: input.grantKey,
      accountEmail: account.email ?? null,
      accountName: account.name ?? null,
      status: "active" as const,
      statusReason: null,
      scopes: input.scopes.join(" "),
      ...encrypted,
      accessTokenExpiresAt: tokens.expiresIn === null ? null : now + tokens.expiresIn * 1000,
      accessTokenIssuedAt: now,
      updatedAt: now,
      // A fresh grant ends any cooldown or failure streak of the old one, and any queued job's hold on the scans;
      // its tokens are under the current key.
      refreshFailures: 0,
      refreshBlockedUntil: null,
      lastRefreshFailure: null,
      lastRefreshFailureClass: null,
      refreshFailingSince: null,
      refreshFailureReportedAt: null,
      reEncryptFailures: 0,
      reEncryptBlockedUntil: null,
      refreshEnqueuedAt: null,
    };
    if (previous) {
      const update = { ...fields, lastRefreshedAt: previous.lastRefreshedAt };
      if (await updateConnection(db, { userId, id, expectedVersion: previous.version }, update)) {
        return { row: { ...previous, ...update, version: previous.version + 1 }, previous };
      }
    } else {
      const row: ConnectionRow = {
        id,
        userId,
        provider,
        accountId: account.id,
        ...fields,
        version: 1,
        createdAt: now,
        lastRefreshedAt: null,
        pendingWriteKeyId: null,
      };
      if (await insertConnection(db, row)) return { row, previous: null };
    }
  }
  throw new Error("connection write kept conflicting with concurrent writers");
}

/**
 * Stores a completed authorization with its consent (a grant, an expansion, or a reduction when fewer scopes were
 * granted than asked), publishes what changed for subscribers, and completes the integration activation it was begun
 * for.
 */
export async function recordAuthorizedConnection(services: Services, input: CompletedAuthorization): Promise<ConnectionRow> {
  const saved = await saveAuthorizedConnection(services.db, services.cipher, input);
  // Published once the connection is stored: should a later step fail, the connection exists all the same.
  for (const event of authorizationEvents(saved.row, saved.previous)) services.events.publish(event);
  const previousScopes = saved.previous ? parseScopes(saved.previous.scopes) : [];
  const kind: ConsentKind =
    input.missingScopes.length > 0
      ? "reduction"
      : saved.previous && input.scopes.some((scope) => !previousScopes.includes(scope))
        ? "expansion"
        : "grant";
  await recordConsent(services.db, {
    userId: input.userId,
    connectionId: saved.row.id,
    provider: input.provider,
    kind,
    scopes: joinScopes(input.scopes),
    missingScopes: joinScopes(input.missingScopes),
    integration: null,
    ...input.client,
    createdAt: input.now,
  });
  if (input.integration !== null) {
    await completeIntegrationActivation(services, {
      userId: input.userId,
      key: input.integration,
      connection: saved.row,
      client: input.client,
      now: input.now,
    });
  }
  return saved.row;
}
