/**
 * The Worker's configuration in tests: every provider points at the mock provider endpoints started by
 * `global-setup.ts`, and one `OIDC_PROVIDERS` entry points at the local `oidc-provider` issuer.
 * Shared by the vitest config (workerd) and the end-to-end runner (wrangler dev).
 *
 * Every variable the configuration reads is named, unused ones as empty strings (unset): the vitest plugin also
 * loads a developer's `.dev.vars` next to wrangler.jsonc, with no option to stop it, and these bindings override it.
 * test/support/bindings.test.ts checks that none is missing.
 */
export const TEST_JWT_SECRET = "test-secret-for-hs256-callers-0123456789abcdef";
/** Two keys so decryption with a non-first key is exercised; `k2` encrypts. */
export const TEST_ENCRYPTION_KEYS = "k2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,k1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
export const LOCAL_OIDC_ID = "local-oidc";
export const LOCAL_OIDC_CLIENT = { clientId: "connection-manager", clientSecret: "local-oidc-client-secret" };

export interface TestEndpoints {
  mockProviderOrigin: string;
  oidcIssuer: string;
}

export function testBindings({ mockProviderOrigin, oidcIssuer }: TestEndpoints): Record<string, string> {
  const mock = (path: string) => `${mockProviderOrigin}${path}`;
  return {
    PUBLIC_BASE_URL: "http://localhost:8787",
    RETURN_TO_ORIGINS: "https://app.example.com,http://localhost:3000",
    CORS_ORIGINS: "https://app.example.com",
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    AUTH_JWKS_URL: "",
    AUTH_JWT_ISSUER: "",
    AUTH_JWT_AUDIENCE: "",
    TOKEN_ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
    GOOGLE_CLIENT_ID: "google-client-id.apps.googleusercontent.com",
    GOOGLE_CLIENT_SECRET: "google-client-secret",
    GOOGLE_AUTHORIZATION_URL: mock("/google/authorize"),
    GOOGLE_TOKEN_URL: mock("/google/token"),
    GOOGLE_REVOCATION_URL: mock("/google/revoke"),
    GOOGLE_USERINFO_URL: mock("/google/userinfo"),
    GOOGLE_JWKS_URL: mock("/google/jwks"),
    GOOGLE_ISSUER: mock("/google"),
    // YouTube uses Google's client unless it has its own.
    YOUTUBE_CLIENT_ID: "",
    YOUTUBE_CLIENT_SECRET: "",
    YOUTUBE_AUTHORIZATION_URL: mock("/google/authorize"),
    YOUTUBE_TOKEN_URL: mock("/google/token"),
    YOUTUBE_REVOCATION_URL: mock("/google/revoke"),
    YOUTUBE_USERINFO_URL: mock("/youtube/channels"),
    YOUTUBE_JWKS_URL: mock("/google/jwks"),
    YOUTUBE_ISSUER: mock("/google"),
    MICROSOFT_CLIENT_ID: "11111111-2222-3333-4444-555555555555",
    MICROSOFT_CLIENT_SECRET: "microsoft-client-secret",
    MICROSOFT_TENANT: "common",
    MICROSOFT_AUTHORIZATION_URL: mock("/microsoft/common/oauth2/v2.0/authorize"),
    MICROSOFT_TOKEN_URL: mock("/microsoft/common/oauth2/v2.0/token"),
    MICROSOFT_REVOCATION_URL: "",
    MICROSOFT_USERINFO_URL: mock("/microsoft/graph/me"),
    MICROSOFT_JWKS_URL: mock("/microsoft/discovery/v2.0/keys"),
    MICROSOFT_ISSUER: mock("/microsoft/{tenantid}/v2.0"),
    NOTION_CLIENT_ID: "notion-client-id",
    NOTION_CLIENT_SECRET: "notion-client-secret",
    NOTION_AUTHORIZATION_URL: mock("/notion/v1/oauth/authorize"),
    NOTION_TOKEN_URL: mock("/notion/v1/oauth/token"),
    NOTION_REVOCATION_URL: mock("/notion/v1/oauth/revoke"),
    NOTION_USERINFO_URL: "",
    NOTION_JWKS_URL: "",
    NOTION_ISSUER: "",
    OIDC_PROVIDERS: JSON.stringify([
      {
        id: LOCAL_OIDC_ID,
        name: "Local OpenID Provider",
        issuer: oidcIssuer,
        client_id: LOCAL_OIDC_CLIENT.clientId,
        scopes: ["openid", "email", "profile", "offline_access", "api:read", "api:write"],
        default_scopes: ["openid", "email", "offline_access"],
      },
    ]),
    OIDC_LOCAL_OIDC_CLIENT_SECRET: LOCAL_OIDC_CLIENT.clientSecret,
    // Short, so timeout tests do not wait 10 s; the mock's slow responses exceed it.
    UPSTREAM_TIMEOUT_MS: "1500",
    REFRESH_LOOKAHEAD_SECONDS: "600",
    AUDIT_RETENTION_DAYS: "30",
    // Unset: flows complete at their callback; test/connect-verifications/ sets it on an app of its own.
    CONNECT_VERIFY_URL: "",
  };
}
