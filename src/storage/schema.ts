import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Times are Unix milliseconds (UTC). */
const timestamp = (name: string) => integer(name, { mode: "number" });

export const connections = sqliteTable(
  "connections",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull(),
    provider: text("provider").notNull(),
    accountId: text("account_id").notNull(),
    accountEmail: text("account_email"),
    accountName: text("account_name"),
    status: text("status", { enum: ["active", "needs_reauth"] }).notNull(),
    /** Why the connection needs re-authorization (a reason code, never provider text). */
    statusReason: text("status_reason"),
    /** Granted scopes, normalised, space-separated. */
    scopes: text("scopes").notNull(),
    /** `kid.iv.ciphertext`, bound by AAD to this row, user and field. */
    accessTokenCiphertext: text("access_token_ciphertext").notNull(),
    refreshTokenCiphertext: text("refresh_token_ciphertext"),
    /** The key id both ciphertexts were written with, for rotation progress. */
    keyId: text("key_id").notNull(),
    accessTokenExpiresAt: timestamp("access_token_expires_at"),
    /** When the stored access token was issued; with its expiry, the life it was issued with (half-life freshness). */
    accessTokenIssuedAt: timestamp("access_token_issued_at"),
    /** Incremented by every write of the token columns (compare-and-swap). */
    version: integer("version").notNull().default(1),
    createdAt: timestamp("created_at").notNull(),
    updatedAt: timestamp("updated_at").notNull(),
    lastRefreshedAt: timestamp("last_refreshed_at"),
    /** Consecutive failed refreshes (transient or operator), for exponential backoff. */
    refreshFailures: integer("refresh_failures").notNull().default(0),
    /** No upstream refresh before this time (cooldown after a transient or operator failure). */
    refreshBlockedUntil: timestamp("refresh_blocked_until"),
    /** The label of the last failed refresh (`timeout`, `network`, `rate_limited`, …), cleared on success. */
    lastRefreshFailure: text("last_refresh_failure"),
    /**
     * The provider grant this connection's tokens belong to when connections can share one (Google and YouTube:
     * `{client_id}:{Google sub}`), so disconnecting one never revokes what another still holds; null otherwise.
     */
    grantKey: text("grant_key"),
    /** The class of the failure that started the cooldown: a vend during it answers as that failure did. */
    lastRefreshFailureClass: text("last_refresh_failure_class", { enum: ["transient", "operator"] }),
    /**
     * The key of a write-ahead copy that may exist in the user's Durable Object: set (without a version bump)
     * before an upstream refresh, cleared by the write after it. Copies live where D1 cannot count them, so this
     * is what `GET /v1/admin/keys` counts and what the re-encryption pass visits.
     */
    pendingWriteKeyId: text("pending_write_key_id"),
    /** Consecutive failed re-encryptions (a key missing from the ring), for exponential backoff. */
    reEncryptFailures: integer("re_encrypt_failures").notNull().default(0),
    /**
     * The re-encryption scan skips the row until this time: a re-encryption job for it is queued (set by the scan,
     * cleared by the re-encryption), or its re-encryption failed lately (backoff).
     */
    reEncryptBlockedUntil: timestamp("re_encrypt_blocked_until"),
    /**
     * When the refresh scan last queued a refresh job for this connection (the scan's tick time). The scan passes the
     * row by for one look-ahead window after it, unless a refresh landed since (`last_refreshed_at` at or after it),
     * so a queued job is not queued again while it waits or is retried.
     */
    refreshEnqueuedAt: timestamp("refresh_enqueued_at"),
    /**
     * When the current streak of failed refreshes (transient or operator) began; cleared by a success or a new grant.
     * A transient streak becomes a `connection.refresh_failed` event once it has lasted an hour.
     */
    refreshFailingSince: timestamp("refresh_failing_since"),
    /** When `connection.refresh_failed` was published for the current streak; the first success after it publishes `recovered`. */
    refreshFailureReportedAt: timestamp("refresh_failure_reported_at"),
  },
  (table) => [
    uniqueIndex("connections_user_provider_account").on(table.userId, table.provider, table.accountId),
    index("connections_status_expiry").on(table.status, table.accessTokenExpiresAt),
    index("connections_key_id").on(table.keyId),
    index("connections_grant_key").on(table.grantKey),
    index("connections_pending_write_key_id").on(table.pendingWriteKeyId),
  ],
);

export const consents = sqliteTable(
  "consents",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull(),
    connectionId: text("connection_id"),
    provider: text("provider").notNull(),
    kind: text("kind", {
      enum: ["grant", "expansion", "reduction", "withdrawal", "integration_activated", "integration_deactivated"],
    }).notNull(),
    /** Scopes the change concerns, space-separated. */
    scopes: text("scopes").notNull(),
    /** Scopes asked for but not granted, space-separated (reductions). */
    missingScopes: text("missing_scopes").notNull().default(""),
    integration: text("integration"),
    ip: text("ip"),
    userAgent: text("user_agent"),
    createdAt: timestamp("created_at").notNull(),
  },
  (table) => [index("consents_user_created").on(table.userId, table.createdAt, table.id)],
);

/** The integrations a user asked for; whether one is active follows from its connection's status and scopes. */
export const integrationActivations = sqliteTable(
  "integration_activations",
  {
    userId: text("user_id").notNull(),
    integration: text("integration").notNull(),
    /** The connection it uses; null while the authorization that creates the connection is under way. */
    connectionId: text("connection_id"),
    createdAt: timestamp("created_at").notNull(),
    updatedAt: timestamp("updated_at").notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.userId, table.integration] }),
    index("integration_activations_connection").on(table.connectionId),
  ],
);

export const auditEvents = sqliteTable(
  "audit_events",
  {
    id: text("id").primaryKey(),
    at: timestamp("at").notNull(),
    userId: text("user_id"),
    /** Who acted: `user`, `service` (a backend with connections:token), `cron`, `anonymous`. */
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    provider: text("provider"),
    connectionId: text("connection_id"),
    outcome: text("outcome", { enum: ["success", "failure"] }).notNull(),
    requestId: text("request_id"),
    ip: text("ip"),
    /** A small JSON object; never a secret. */
    detail: text("detail").notNull().default("{}"),
  },
  (table) => [
    index("audit_user_at").on(table.userId, table.at, table.id),
    index("audit_action_at").on(table.action, table.at, table.id),
    index("audit_at").on(table.at, table.id),
  ],
);

/**
 * Endpoints the operator subscribed to lifecycle events (docs/http-api.md, "Events (webhooks)"). The signing secret
 * is stored encrypted with the token key ring, bound to its row; during a rotation's overlap the previous secret
 * signs beside the new one until `previousSecretExpiresAt`.
 */
export const webhookEndpoints = sqliteTable(
  "webhook_endpoints",
  {
    id: text("id").primaryKey(),
    url: text("url").notNull(),
    /** JSON array of event types; `null`: every type. */
    events: text("events"),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    /** Why the service disabled it (`gone`: the endpoint answered 410); `null` when enabled or disabled by the operator. */
    disabledReason: text("disabled_reason"),
    description: text("description").notNull().default(""),
    /** `v1.{kid}.{iv}.{ciphertext}` of the `whsec_…` secret. */
    secretCiphertext: text("secret_ciphertext").notNull(),
    previousSecretCiphertext: text("previous_secret_ciphertext"),
    previousSecretExpiresAt: timestamp("previous_secret_expires_at"),
    /** The key id both ciphertexts were written with, for rotation progress. */
    keyId: text("key_id").notNull(),
    /** Incremented by every write of the secret columns (compare-and-swap, as for connections). */
    version: integer("version").notNull().default(1),
    createdAt: timestamp("created_at").notNull(),
    updatedAt: timestamp("updated_at").notNull(),
  },
  (table) => [index("webhook_endpoints_key_id").on(table.keyId)],
);

/** Every delivery attempt of an event to an endpoint; pruned like the audit trail. Never a payload or response body. */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    endpointId: text("endpoint_id").notNull(),
    /** The `webhook-id` of the event: the same on every attempt. */
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    attempt: integer("attempt").notNull(),
    /** `delivered`, `failed` (another attempt follows), `abandoned` (past 24 h) or `disabled` (the endpoint answered 410). */
    status: text("status", { enum: ["delivered", "failed", "abandoned", "disabled"] }).notNull(),
    responseStatus: integer("response_status"),
    /**
     * A failure class (`timeout`, `network`, `http_status`, `redirect`, `secret_unavailable`, `endpoint_disabled`:
     * src/webhooks/delivery.ts `DeliveryError`), never the receiver's text.
     */
    error: text("error"),
    at: timestamp("at").notNull(),
    nextAttemptAt: timestamp("next_attempt_at"),
  },
  (table) => [
    index("webhook_deliveries_endpoint_at").on(table.endpointId, table.at, table.id),
    index("webhook_deliveries_at").on(table.at),
  ],
);

export type ConnectionRow = typeof connections.$inferSelect;
export type ConsentRow = typeof consents.$inferSelect;
export type AuditEventRow = typeof auditEvents.$inferSelect;
export type IntegrationActivationRow = typeof integrationActivations.$inferSelect;
export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
