/**
 * Vitest globalSetup (runs in Node, once per run): copies the /docs renderer into the static assets folder (for a
 * run started without `npm test`'s pre-script), starts the mock provider endpoints and the local OIDC server,
 * hands their addresses to the Worker's bindings (vitest.config.ts injects them), and stops both afterwards.
 */
import type { TestProject } from "vitest/node";
import { copyDocsAssets } from "../../scripts/copy-docs-assets";
import { startMockProviders } from "./mock-providers";
import { startOidcServer } from "./oidc-server";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  copyDocsAssets();
  const [mockProviders, oidcServer] = await Promise.all([startMockProviders(), startOidcServer()]);
  project.provide("mockProviderOrigin", mockProviders.origin);
  project.provide("oidcIssuer", oidcServer.issuer);
  return async function teardown() {
    await Promise.all([mockProviders.close(), oidcServer.close()]);
  };
}
