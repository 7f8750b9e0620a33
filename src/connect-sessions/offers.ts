/** What a connect session offers, and where each offer stands for the session's user. */
import type { Integration } from "../integrations/catalogue";
import { integrationCatalogue } from "../integrations/catalogue";
import { integrationState } from "../integrations/status";
import type { ProviderRegistry } from "../providers/registry";
import type { Services } from "../services";
import type { ConnectSession } from "../storage/connect-sessions";
import { listConnections } from "../storage/connections";
import { listActivations, type IntegrationActivationRow } from "../storage/integration-activations";
import type { ConnectionRow } from "../storage/schema";

/** One thing the page offers: a provider (any of its accounts) or an integration (the account it uses). */
export type OfferRef = { kind: "provider"; id: string } | { kind: "integration"; key: string };

/** `provider:{id}` or `integration:{key}`: how an offer is named in the page's forms and URLs. */
export function offerKey(ref: OfferRef): string {
  return ref.kind === "provider" ? `provider:${ref.id}` : `integration:${ref.key}`;
}

export type AccountState = "connected" | "needs_reconnection" | "needs_permissions";

export interface OfferedAccount {
  connectionId: string;
  /** How the page names the account: its email, else its name, else its id at the provider. */
  label: string;
  state: AccountState;
}

export interface Offer {
  ref: OfferRef;
  key: string;
  name: string;
  /** An integration's description; a provider has none. */
  description: string | null;
  providerId: string;
  providerName: string;
  /** False when the provider lost its credentials since the session was made: shown, with nothing to press. */
  available: boolean;
  /** No account: not connected. */
  accounts: OfferedAccount[];
}

export function accountLabel(connection: ConnectionRow): string {
  return connection.accountEmail ?? connection.accountName ?? connection.accountId;
}

function account(connection: ConnectionRow, state: AccountState): OfferedAccount {
  return { connectionId: connection.id, label: accountLabel(connection), state };
}

function integrationAccounts(
  integration: Integration,
  activation: IntegrationActivationRow | undefined,
  connections: readonly ConnectionRow[],
): OfferedAccount[] {
  const { status, connectionId } = integrationState(integration, activation, connections);
  const connection = connections.find((candidate) => candidate.id === connectionId);
  // An integration not asked for is not connected, even when an account it could use is.
  if (!connection || status === "inactive") return [];
  if (status === "needs_reauth") return [account(connection, "needs_reconnection")];
  return [account(connection, status === "active" ? "connected" : "needs_permissions")];
}

export interface OfferContext {
  providers: ProviderRegistry;
  catalogue: ReadonlyMap<string, Integration>;
  connections: readonly ConnectionRow[];
  activations: readonly IntegrationActivationRow[];
}

/**
 * The session's offers (integrations first, then providers, each in the order the application asked) with their
 * state for the user. An offer whose integration or provider no longer exists is left out.
 */
export function describeOffers(session: ConnectSession, context: OfferContext): Offer[] {
  const offers: Offer[] = [];
  for (const key of session.integrations) {
    const integration = context.catalogue.get(key);
    const provider = integration && context.providers.get(integration.provider);
    if (!integration || !provider) continue;
    const activation = context.activations.find((candidate) => candidate.integration === key);
    offers.push({
      ref: { kind: "integration", key },
      key: offerKey({ kind: "integration", key }),
      name: integration.name,
      description: integration.description,
      providerId: provider.id,
      providerName: provider.name,
      available: provider.configured,
      accounts: integrationAccounts(integration, activation, context.connections),
    });
  }
  for (const id of session.providers) {
    const provider = context.providers.get(id);
    if (!provider) continue;
    offers.push({
      ref: { kind: "provider", id },
      key: offerKey({ kind: "provider", id }),
      name: provider.name,
      description: null,
      providerId: id,
      providerName: provider.name,
      available: provider.configured,
      accounts: context.connections
        .filter((connection) => connection.provider === id)
        .map((connection) => account(connection, connection.status === "active" ? "connected" : "needs_reconnection")),
    });
  }
  return offers;
}

/** The session's offers as they stand for its user now. */
export async function loadOffers(services: Services, session: ConnectSession): Promise<Offer[]> {
  const [connections, activations] = await Promise.all([
    listConnections(services.db, { userId: session.userId }),
    listActivations(services.db, { userId: session.userId }),
  ]);
  return describeOffers(session, {
    providers: services.providers,
    catalogue: integrationCatalogue(services.config),
    connections,
    activations,
  });
}
