import { splitScopes } from "../connections/present";
import { ProblemError } from "../errors";
import { beginAuthorization, configuredProvider } from "../flow/begin";
import type { FlowContext } from "../flow/flow-context";
import { listConnections } from "../storage/connections";
import { recordConsent } from "../storage/consents";
import { deleteActivation, saveActivation } from "../storage/integration-activations";
import type { ConnectionRow } from "../storage/schema";
import { integrationCatalogue, type Integration } from "./catalogue";

export interface ActivationRequest {
  userId: string;
  key: string;
  connectionId?: string | undefined;
  returnTo?: string | undefined;
  ip: string | null;
  userAgent: string | null;
}

export type ActivationResult = { status: "active" } | { status: "authorization_required"; authorizationUrl: string };

export function findIntegration(flow: FlowContext, key: string): Integration {
  const integration = integrationCatalogue(flow.config).get(key);
  if (!integration) throw new ProblemError("not-found", `There is no integration "${key}".`);
  return integration;
}

/** The connection an activation uses: the one named, or the user's only one to the provider, or none yet. */
function targetConnection(
  connections: ConnectionRow[],
  integration: Integration,
  connectionId: string | undefined,
): ConnectionRow | undefined {
  const candidates = connections.filter((connection) => connection.provider === integration.provider);
  if (connectionId !== undefined) {
    const named = candidates.find((connection) => connection.id === connectionId);
    if (!named) throw new ProblemError("not-found", `The caller has no ${integration.provider} connection ${connectionId}.`);
    return named;
  }
  if (candidates.length > 1) {
    throw new ProblemError("bad-request", `The user has several ${integration.provider} connections: name one in connection_id.`, {
      extensions: { connection_ids: candidates.map((connection) => connection.id) },
    });
  }
  return candidates[0];
}

/**
 * Turns an integration on. When its connection already holds the scopes, at once; otherwise through an incremental
 * authorization for the granted scopes plus the needed ones, which completes the activation in the callback.
 */
export async function activateIntegration(flow: FlowContext, request: ActivationRequest): Promise<ActivationResult> {
  const integration = findIntegration(flow, request.key);
  const provider = configuredProvider(flow, integration.provider);
  const connections = await listConnections(flow.db, { userId: request.userId });
  const target = targetConnection(connections, integration, request.connectionId);
  const granted = target ? splitScopes(target.scopes) : [];
  const missing = integration.scopes.filter((scope) => !granted.includes(scope));
  const activation = { userId: request.userId, integration: integration.key, connectionId: target?.id ?? null, now: flow.now };

  if (target && target.status === "active" && missing.length === 0) {
    await saveActivation(flow.db, activation);
    await recordIntegrationConsent(flow, request, integration, "integration_activated", target.id);
    flow.audit.defer({
      action: "integration.activated",
      outcome: "success",
      provider: integration.provider,
      connectionId: target.id,
      detail: { integration: integration.key },
    });
    return { status: "active" };
  }
  // Ask again for what is already granted too: providers without incremental consent (Microsoft, OIDC) grant only what is asked.
  const scopes = [...new Set([...granted.filter((scope) => provider.allowedScopes.includes(scope)), ...integration.scopes])];
  const begun = await beginAuthorization(flow, {
    userId: request.userId,
    providerId: provider.id,
    scopes,
    returnTo: request.returnTo,
    connectionId: target?.id ?? null,
    hasRefreshToken: target?.refreshTokenCiphertext != null,
    integration: integration.key,
  });
  // Only once the authorization has begun: a refused return_to must not leave a pending activation behind.
  await saveActivation(flow.db, activation);
  flow.audit.defer({
    action: "integration.authorization_required",
    outcome: "success",
    provider: integration.provider,
    connectionId: target?.id ?? null,
    detail: { integration: integration.key, missing: missing.length },
  });
  return { status: "authorization_required", authorizationUrl: begun.authorizationUrl };
}

/** Turns an integration off; the connection and other integrations on it stay as they are. */
export async function deactivateIntegration(
  flow: FlowContext,
  request: Omit<ActivationRequest, "connectionId" | "returnTo">,
): Promise<void> {
  const integration = findIntegration(flow, request.key);
  if (!(await deleteActivation(flow.db, { userId: request.userId, integration: integration.key }))) return;
  await recordIntegrationConsent(flow, request, integration, "integration_deactivated", null);
  flow.audit.defer({
    action: "integration.deactivated",
    outcome: "success",
    provider: integration.provider,
    detail: { integration: integration.key },
  });
}

/** Completes the activation an authorization was started for, once the callback has stored the connection. */
export async function completeIntegrationActivation(
  flow: FlowContext,
  request: { userId: string; key: string; connection: ConnectionRow; ip: string | null; userAgent: string | null },
): Promise<void> {
  const integration = integrationCatalogue(flow.config).get(request.key);
  if (!integration) return;
  await saveActivation(flow.db, {
    userId: request.userId,
    integration: integration.key,
    connectionId: request.connection.id,
    now: flow.now,
  });
  const granted = splitScopes(request.connection.scopes);
  const missing = integration.scopes.filter((scope) => !granted.includes(scope));
  if (missing.length > 0) return;
  await recordIntegrationConsent(flow, request, integration, "integration_activated", request.connection.id);
  flow.audit.defer({
    action: "integration.activated",
    outcome: "success",
    provider: integration.provider,
    connectionId: request.connection.id,
    detail: { integration: integration.key },
  });
}

async function recordIntegrationConsent(
  flow: FlowContext,
  request: { userId: string; ip: string | null; userAgent: string | null },
  integration: Integration,
  kind: "integration_activated" | "integration_deactivated",
  connectionId: string | null,
): Promise<void> {
  await recordConsent(flow.db, {
    userId: request.userId,
    connectionId,
    provider: integration.provider,
    kind,
    scopes: integration.scopes.join(" "),
    missingScopes: "",
    integration: integration.key,
    ip: request.ip,
    userAgent: request.userAgent,
    createdAt: flow.now,
  });
}
