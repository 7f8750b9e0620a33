/** The lifecycle events the service tells subscribed endpoints about (docs/http-api.md, "Events (webhooks)"). */
export const WEBHOOK_EVENT_TYPES = [
  "connection.created",
  "connection.reauthorized",
  "connection.scopes_changed",
  "connection.needs_reauth",
  "connection.refresh_failed",
  "connection.recovered",
  "connection.deleted",
  "integration.activated",
  "integration.deactivated",
  "user.erased",
  "webhook.test",
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
