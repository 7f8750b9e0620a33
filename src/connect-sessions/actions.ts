/**
 * What the connect page's buttons do. They run the service's ordinary operations for the session's user: a connect
 * flow (`beginConnect`, or an integration's activation) that returns to the page, and a removal through the user's
 * vault exactly as `DELETE /v1/connections/{id}`.
 */
import { beginConnect } from "../connect/begin";
import { ProblemError } from "../errors";
import { activateIntegration } from "../integrations/activate";
import { integrationCatalogue } from "../integrations/catalogue";
import { parseScopes } from "../scopes";
import type { Services } from "../services";
import type { ConsentClient } from "../storage/consents";
import type { ConnectSession } from "../storage/connect-sessions";
import { findConnection, listConnections } from "../storage/connections";
import type { ConnectionRow } from "../storage/schema";
import { userVault } from "../vault/user-vault";
import type { RemovalResult } from "../vault/removal";
import { offerKey, type OfferRef } from "./offers";

/** The page's own path, with the parameters of a result. */
export function pagePath(sessionId: string, params: Record<string, string> = {}): string {
  const query = new URLSearchParams(params).toString();
  return `/connect/${sessionId}${query ? `?${query}` : ""}`;
}

/** The offer named by a form's `offer` field; a form naming anything the session does not offer is refused. */
export function offeredRef(session: ConnectSession, key: string): OfferRef {
  const offered: OfferRef[] = [
    ...session.integrations.map((integration): OfferRef => ({ kind: "integration", key: integration })),
    ...session.providers.map((provider): OfferRef => ({ kind: "provider", id: provider })),
  ];
  const ref = offered.find((candidate) => offerKey(candidate) === key);
  if (!ref) throw new ProblemError("bad-request", "This session does not offer that.");
  return ref;
}

/** The providers a session's offers are about: only their connections may be touched from its page. */
function offeredProviders(services: Services, session: ConnectSession): Set<string> {
  const catalogue = integrationCatalogue(services.config);
  return new Set([...session.providers, ...session.integrations.flatMap((key) => catalogue.get(key)?.provider ?? [])]);
}

async function offeredConnection(services: Services, session: ConnectSession, connectionId: string): Promise<ConnectionRow | null> {
  const connection = await findConnection(services.db, { userId: session.userId, id: connectionId });
  return connection && offeredProviders(services, session).has(connection.provider) ? connection : null;
}

export interface StartRequest {
  sessionId: string;
  session: ConnectSession;
  ref: OfferRef;
  /** The account a "Reconnect" button names; absent for "Connect". */
  connectionId: string | undefined;
  client: ConsentClient;
  now: number;
}

/** Where the browser goes next: the flow's start URL, or straight back to the page when nothing needed the provider. */
export type StartResult = { kind: "flow"; startUrl: string } | { kind: "done"; pagePath: string };

/**
 * Starts what a Connect or Reconnect button asks for. A provider: a new flow (for a reconnection, asking again for
 * what the account had and for consent, so a provider issues a new refresh token). An integration: its activation,
 * which is immediate when the account already holds the scopes; when the user has several accounts of the
 * provider and named none, a new flow in which the provider lets them choose.
 */
export async function startOffer(services: Services, request: StartRequest): Promise<StartResult> {
  const { session, ref } = request;
  const target = request.connectionId === undefined ? null : await offeredConnection(services, session, request.connectionId);
  if (request.connectionId !== undefined && !target) throw new ProblemError("not-found", "There is no such connection.");
  const back = (params: Record<string, string> = {}) =>
    pagePath(request.sessionId, { offer: offerKey(ref), ...(target ? { connection_id: target.id } : {}), ...params });

  if (ref.kind === "provider") {
    const begun = await beginConnect(services, {
      userId: session.userId,
      providerId: ref.id,
      scopes: target
        ? parseScopes(target.scopes).filter((scope) => services.providers.get(ref.id)?.allowedScopes.includes(scope))
        : undefined,
      connectionId: target?.id ?? null,
      hasRefreshToken: false,
      returnToServicePath: back(),
      now: request.now,
    });
    return { kind: "flow", startUrl: begun.authorizationUrl };
  }

  const integration = integrationCatalogue(services.config).get(ref.key)!;
  const candidates = (await listConnections(services.db, { userId: session.userId })).filter(
    (connection) => connection.provider === integration.provider,
  );
  if (!target && candidates.length > 1) {
    const begun = await beginConnect(services, {
      userId: session.userId,
      providerId: integration.provider,
      scopes: [...integration.scopes],
      integration: integration.key,
      returnToServicePath: back(),
      now: request.now,
    });
    return { kind: "flow", startUrl: begun.authorizationUrl };
  }
  const activated = await activateIntegration(services, {
    userId: session.userId,
    key: integration.key,
    connectionId: target?.id,
    returnToServicePath: back(),
    client: request.client,
    now: request.now,
  });
  if (activated.status === "authorization_required") return { kind: "flow", startUrl: activated.authorizationUrl };
  return { kind: "done", pagePath: back({ status: "connected", connection_id: (target ?? candidates[0]!).id }) };
}

/** Disconnects an account the page shows, as `DELETE /v1/connections/{id}` does; another one is `not_found`. */
export async function disconnectAccount(
  services: Services,
  request: { session: ConnectSession; connectionId: string; client: ConsentClient },
): Promise<RemovalResult["kind"]> {
  const { session, connectionId } = request;
  if (!(await offeredConnection(services, session, connectionId))) return "not_found";
  const removed = await userVault(services.env, session.userId).remove(
    { userId: session.userId, connectionId, client: request.client, reason: "user" },
    services.audit.trace(),
  );
  return removed.kind;
}
