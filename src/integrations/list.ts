import type { Services } from "../services";
import { listConnections } from "../storage/connections";
import { listActivations } from "../storage/integration-activations";
import { integrationCatalogue, type Integration } from "./catalogue";
import { integrationState, type IntegrationState } from "./status";

/** Every integration of the catalogue with where it stands for the user. */
export async function listIntegrations(services: Services, userId: string): Promise<(Integration & IntegrationState)[]> {
  const [connections, activations] = await Promise.all([
    listConnections(services.db, { userId }),
    listActivations(services.db, { userId }),
  ]);
  return [...integrationCatalogue(services.config).values()].map((integration) => ({
    ...integration,
    ...integrationState(
      integration,
      activations.find((activation) => activation.integration === integration.key),
      connections,
    ),
  }));
}
