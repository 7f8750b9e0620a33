/**
 * The runtime-neutral toolkit bound to what the workerd tests run against: the service is the Worker under test
 * through its own fetch handler (./worker.ts), the issuers are the mock providers and the local oidc-provider that
 * the global set-up (./global-setup.ts) starts. e2e/support/service.ts binds the same toolkit to `wrangler dev`.
 */
import { inject } from "vitest";
import { apiClient } from "./api-client";
import { mockProviderControl } from "./mock-control";
import { localOidcControl } from "./oidc-control";
import { callWorker } from "./worker";

/** The Worker's API as an application's backend calls it (./api-client.ts). */
export const service = apiClient(callWorker);

/** The mock providers' control API (./mock-control.ts). */
export const mockProvider = mockProviderControl(inject("mockProviderOrigin"));

/** The local oidc-provider's control API, revocation and userinfo endpoints (./oidc-control.ts). */
export const localOidc = localOidcControl(inject("oidcIssuer"));
