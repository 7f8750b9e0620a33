/** Names for the generated schemas the helpers take and give (./generated/openapi.ts, from the service's document). */
import type { components, paths } from "./generated/openapi.js";

export type Connection = components["schemas"]["Connection"];
export type VendRequest = components["schemas"]["VendRequest"];
export type VendedToken = components["schemas"]["VendResponse"];
export type ConnectSessionRequest = components["schemas"]["ConnectSessionRequest"];
export type ConnectSession = paths["/v1/connect-sessions"]["post"]["responses"][201]["content"]["application/json"];
/** The event types, as the admin API's subscriptions list them. */
export type WebhookEventType = NonNullable<components["schemas"]["WebhookSubscription"]["events"]>[number];
