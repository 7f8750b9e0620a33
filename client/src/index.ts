export { createConnectionManagerClient, type ConnectionManagerClient, type ConnectionManagerOptions } from "./client.js";
export type { components, paths } from "./generated/openapi.js";
export { isProblem, PROBLEM_TYPES, ProblemError, unwrap, type ApiAnswer, type ProblemType } from "./problem.js";
export type { Connection, ConnectSession, ConnectSessionRequest, VendedToken, VendRequest, WebhookEventType } from "./schemas.js";
export { WebhookVerificationError, WebhookVerifier, type WebhookEvent, type WebhookEventData, type WebhookHeaders } from "./webhooks.js";
export { TokenRejectedError } from "./with-token.js";
