/**
 * The OAuth clients the mock providers accept. The built-in ones are read from the test bindings so the Worker's
 * configuration and the mock can never disagree; the mock OIDC client is for tests that build their own config.
 * No Node imports: tests inside workerd import this file too.
 */
import { testBindings } from "../bindings";

export const MOCK_OIDC_CLIENT = { clientId: "mock-oidc-client", clientSecret: "mock-oidc-client-secret" } as const;

export type MockProviderKind = "google" | "microsoft" | "notion" | "oidc";

export interface MockClient {
  clientId: string;
  clientSecret: string;
}

export function mockClients(): Record<MockProviderKind, MockClient[]> {
  const bindings = testBindings({ mockProviderOrigin: "", oidcIssuer: "" });
  const client = (prefix: string): MockClient => ({
    clientId: bindings[`${prefix}_CLIENT_ID`] ?? "",
    clientSecret: bindings[`${prefix}_CLIENT_SECRET`] ?? "",
  });
  return {
    google: [client("GOOGLE")],
    microsoft: [client("MICROSOFT")],
    notion: [client("NOTION")],
    oidc: [MOCK_OIDC_CLIENT],
  };
}
