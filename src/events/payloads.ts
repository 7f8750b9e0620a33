/**
 * The events an operation publishes, built from what it wrote (docs/http-api.md, "Events (webhooks)"): `data` always
 * names the user; connection events carry the connection as the API presents it (src/connections/present.ts), which
 * never holds a token.
 */
import { presentConnection, type ConnectionView } from "../connections/present";
import { parseScopes } from "../scopes";
import type { ConnectionRow } from "../storage/schema";
import type { WebhookEventType } from "./event-types";

export interface EventData {
  /** The user the event is about; `null` only in `webhook.test`, which is about no user. */
  user_id: string | null;
  connection?: ConnectionView;
  integration?: string;
  /** `needs_reauth` and `refresh_failed`: the failure's reason code; `deleted`: `user` or `erasure`. */
  reason?: string;
  /** `scopes_changed`: the scopes granted before. */
  previous_scopes?: string[];
}

export interface WebhookEvent {
  type: WebhookEventType;
  data: EventData;
  /** Only to these endpoints (`webhook.test`); absent: to every enabled endpoint subscribed to the type. */
  endpointIds?: string[];
}

/** Why a connection went: its user removed it, or the user was erased. */
export type DeletionReason = "user" | "erasure";

function connectionEvent(
  type: WebhookEventType,
  connection: ConnectionRow,
  extra: Omit<EventData, "user_id" | "connection"> = {},
): WebhookEvent {
  return { type, data: { user_id: connection.userId, connection: presentConnection(connection), ...extra } };
}

/**
 * What storing a completed authorization tells subscribers, given the connection as it was before (`null`: new):
 * `created`; `reauthorized` when it heals `needs_reauth`; `scopes_changed` when the granted scopes differ; and
 * `recovered` when it ends a failure streak that was reported (the new grant ends it as a refresh success would).
 */
export function authorizationEvents(connection: ConnectionRow, previous: ConnectionRow | null): WebhookEvent[] {
  if (previous === null) return [connectionEvent("connection.created", connection)];
  const events: WebhookEvent[] = [];
  if (previous.status === "needs_reauth") events.push(connectionEvent("connection.reauthorized", connection));
  else if (previous.refreshFailureReportedAt !== null) events.push(connectionEvent("connection.recovered", connection));
  const before = parseScopes(previous.scopes);
  const after = parseScopes(connection.scopes);
  if (before.length !== after.length || before.some((scope) => !after.includes(scope))) {
    events.push(connectionEvent("connection.scopes_changed", connection, { previous_scopes: before }));
  }
  return events;
}

export function needsReauthEvent(connection: ConnectionRow, reason: string): WebhookEvent {
  return connectionEvent("connection.needs_reauth", connection, { reason });
}

export function refreshFailedEvent(connection: ConnectionRow, reason: string): WebhookEvent {
  return connectionEvent("connection.refresh_failed", connection, { reason });
}

export function recoveredEvent(connection: ConnectionRow): WebhookEvent {
  return connectionEvent("connection.recovered", connection);
}

/** `connection` as it was just before its removal. */
export function deletedEvent(connection: ConnectionRow, reason: DeletionReason): WebhookEvent {
  return connectionEvent("connection.deleted", connection, { reason });
}

export function integrationEvent(
  type: "integration.activated" | "integration.deactivated",
  userId: string,
  integration: string,
  connection: ConnectionRow | null = null,
): WebhookEvent {
  return {
    type,
    data: { user_id: userId, integration, ...(connection === null ? {} : { connection: presentConnection(connection) }) },
  };
}

export function userErasedEvent(userId: string): WebhookEvent {
  return { type: "user.erased", data: { user_id: userId } };
}

/** The event `POST /v1/admin/webhooks/{id}/test` sends to that endpoint only. */
export function testEvent(endpointId: string): WebhookEvent {
  return { type: "webhook.test", data: { user_id: null }, endpointIds: [endpointId] };
}
