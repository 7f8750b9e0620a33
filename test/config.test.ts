import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ConfigError, getConfig, isAllowedEndpoint, oidcSecretName, parseConfig } from "../src/config";
import { captureLogs } from "./support/logs";

const KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const minimal = {
  PUBLIC_BASE_URL: "https://connections.example.com",
  AUTH_JWT_SECRET: "a-secret-of-at-least-thirty-two-bytes-0123",
  TOKEN_ENCRYPTION_KEYS: `k1:${KEY}`,
};

function configError(overrides: Record<string, unknown>): ConfigError {
  try {
    parseConfig({ ...minimal, ...overrides });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a configuration error");
}

describe("configuration", () => {
  it("parses a minimal environment with defaults and unconfigured providers", () => {
    const config = parseConfig(minimal);
    expect(config.publicBaseUrl).toBe("https://connections.example.com");
    expect(config.refreshLookaheadSeconds).toBe(600);
    expect(config.auditRetentionDays).toBe(365);
    expect(config.providers.google.credentials).toBeNull();
    expect(config.providers.microsoft.tenant).toBe("common");
    expect(config.oidcProviders).toEqual([]);
    expect(config.encryptionKeys.map((key) => key.kid)).toEqual(["k1"]);
  });

  it("is frozen", () => {
    const config = parseConfig(minimal);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.providers.google)).toBe(true);
  });

  it("is parsed once per environment object", () => {
    expect(getConfig(env)).toBe(getConfig(env));
  });

  it("names a missing variable without a value", () => {
    const error = configError({ TOKEN_ENCRYPTION_KEYS: undefined });
    expect(error.variable).toBe("TOKEN_ENCRYPTION_KEYS");
    expect(error.message).toContain("TOKEN_ENCRYPTION_KEYS");
  });

  it("names a malformed key ring but never echoes the key", () => {
    const error = configError({ TOKEN_ENCRYPTION_KEYS: "k1:c2hvcnQta2V5LXNlY3JldA==" });
    expect(error.variable).toBe("TOKEN_ENCRYPTION_KEYS");
    expect(error.message).not.toContain("c2hvcnQta2V5LXNlY3JldA");
  });

  it("refuses duplicate key ids", () => {
    expect(configError({ TOKEN_ENCRYPTION_KEYS: `k1:${KEY},k1:${KEY}` }).variable).toBe("TOKEN_ENCRYPTION_KEYS");
  });

  it("requires a caller authentication method", () => {
    expect(configError({ AUTH_JWT_SECRET: undefined }).variable).toBe("AUTH_JWT_SECRET");
  });

  it("requires AUTH_JWT_AUDIENCE with AUTH_JWKS_URL, so a shared identity provider's tokens for other services cannot pass", () => {
    const error = configError({ AUTH_JWT_SECRET: undefined, AUTH_JWKS_URL: "https://auth.example.com/.well-known/jwks.json" });
    expect(error.variable).toBe("AUTH_JWT_AUDIENCE");
    expect(error.message).toContain("AUTH_JWT_AUDIENCE");
    const withAudience = parseConfig({
      ...minimal,
      AUTH_JWKS_URL: "https://auth.example.com/.well-known/jwks.json",
      AUTH_JWT_AUDIENCE: "connection-manager",
    });
    expect(withAudience.auth.audience).toBe("connection-manager");
  });

  it("refuses a short HS256 secret without echoing it", () => {
    const error = configError({ AUTH_JWT_SECRET: "short-secret" });
    expect(error.variable).toBe("AUTH_JWT_SECRET");
    expect(error.message).not.toContain("short-secret");
  });

  it("refuses plain-http endpoints that are not loopback", () => {
    expect(configError({ GOOGLE_TOKEN_URL: "http://tokens.example.com/token" }).variable).toBe("GOOGLE_TOKEN_URL");
    expect(configError({ PUBLIC_BASE_URL: "ftp://example.com" }).variable).toBe("PUBLIC_BASE_URL");
    expect(isAllowedEndpoint("http://127.0.0.1:9090/token")).toBe(true);
    expect(isAllowedEndpoint("https://user:pass@example.com/")).toBe(false);
  });

  it("treats an empty optional URL as unset", () => {
    const config = parseConfig({ ...minimal, AUTH_JWKS_URL: "", GOOGLE_TOKEN_URL: " " });
    expect([config.auth.jwksUrl, config.providers.google.endpoints]).toEqual([null, {}]);
  });

  it("reads return and CORS origins as origins", () => {
    const config = parseConfig({ ...minimal, RETURN_TO_ORIGINS: "https://app.example.com/path, http://localhost:3000" });
    expect(config.returnToOrigins).toEqual(["https://app.example.com", "http://localhost:3000"]);
    expect(configError({ CORS_ORIGINS: "https://ok.example.com,javascript:alert(1)" }).variable).toBe("CORS_ORIGINS");
  });

  it("lets YouTube use Google's credentials unless its own are set", () => {
    const shared = parseConfig({ ...minimal, GOOGLE_CLIENT_ID: "g", GOOGLE_CLIENT_SECRET: "gs" });
    expect(shared.providers.youtube.credentials).toEqual({ clientId: "g", clientSecret: "gs" });
    const own = parseConfig({
      ...minimal,
      GOOGLE_CLIENT_ID: "g",
      GOOGLE_CLIENT_SECRET: "gs",
      YOUTUBE_CLIENT_ID: "y",
      YOUTUBE_CLIENT_SECRET: "ys",
    });
    expect(own.providers.youtube.credentials).toEqual({ clientId: "y", clientSecret: "ys" });
  });

  it("treats a provider with half its credentials as not configured", () => {
    expect(parseConfig({ ...minimal, NOTION_CLIENT_ID: "n" }).providers.notion.credentials).toBeNull();
  });

  it("reads OIDC providers with their secrets from OIDC_{ID}_CLIENT_SECRET", () => {
    const entry = { id: "acme-sso", name: "Acme", issuer: "https://sso.acme.example", client_id: "cm", scopes: ["openid", "email"] };
    expect(oidcSecretName("acme-sso")).toBe("OIDC_ACME_SSO_CLIENT_SECRET");
    const config = parseConfig({ ...minimal, OIDC_PROVIDERS: JSON.stringify([entry]), OIDC_ACME_SSO_CLIENT_SECRET: "s" });
    expect(config.oidcProviders[0]).toMatchObject({
      id: "acme-sso",
      credentials: { clientId: "cm", clientSecret: "s" },
      defaultScopes: ["openid"],
    });
    expect(parseConfig({ ...minimal, OIDC_PROVIDERS: JSON.stringify([entry]) }).oidcProviders[0]!.credentials).toBeNull();
  });

  it("refuses OIDC providers that shadow a built-in, repeat an id or are not JSON", () => {
    const entry = { id: "google", name: "G", issuer: "https://accounts.google.com", client_id: "x", scopes: ["openid"] };
    expect(configError({ OIDC_PROVIDERS: JSON.stringify([entry]) }).variable).toBe("OIDC_PROVIDERS");
    const twice = { ...entry, id: "twice" };
    expect(configError({ OIDC_PROVIDERS: JSON.stringify([twice, twice]) }).variable).toBe("OIDC_PROVIDERS");
    expect(configError({ OIDC_PROVIDERS: "[{" }).variable).toBe("OIDC_PROVIDERS");
    expect(configError({ OIDC_PROVIDERS: JSON.stringify([{ ...entry, id: "Bad_Id" }]) }).variable).toBe("OIDC_PROVIDERS");
  });

  it.each(["verify", "sessions", "verifications"])("refuses the reserved provider id %s in OIDC_PROVIDERS, naming the variable", (id) => {
    const entry = { id, name: "Reserved", issuer: "https://sso.example.com", client_id: "x", scopes: ["openid"] };
    const error = configError({ OIDC_PROVIDERS: JSON.stringify([entry]) });
    expect(error.variable).toBe("OIDC_PROVIDERS");
    expect(error.message).toContain("reserved");
  });

  it("reads CONNECT_VERIFY_URL as an optional https URL (or http on loopback), unset when empty", () => {
    expect(parseConfig(minimal).connectVerifyUrl).toBeNull();
    expect(parseConfig({ ...minimal, CONNECT_VERIFY_URL: "" }).connectVerifyUrl).toBeNull();
    expect(parseConfig({ ...minimal, CONNECT_VERIFY_URL: "https://app.example.com/connect/verify?from=cm" }).connectVerifyUrl).toBe(
      "https://app.example.com/connect/verify?from=cm",
    );
    expect(parseConfig({ ...minimal, CONNECT_VERIFY_URL: "http://localhost:3000/verify" }).connectVerifyUrl).toBe(
      "http://localhost:3000/verify",
    );
    expect(configError({ CONNECT_VERIFY_URL: "http://app.example.com/verify" }).variable).toBe("CONNECT_VERIFY_URL");
    expect(configError({ CONNECT_VERIFY_URL: "not a url" }).variable).toBe("CONNECT_VERIFY_URL");
  });

  it("refuses a malformed number", () => {
    expect(configError({ REFRESH_LOOKAHEAD_SECONDS: "ten" }).variable).toBe("REFRESH_LOOKAHEAD_SECONDS");
  });

  it("answers requests with a 500 that names nothing when the configuration is broken, and logs the variable for the operator", async () => {
    const errors = captureLogs("error");
    const { createApp } = await import("../src/app");
    const { createExecutionContext } = await import("cloudflare:test");
    const response = await createApp().fetch(
      new Request("http://localhost:8787/health"),
      { ...env, TOKEN_ENCRYPTION_KEYS: "" } as Env,
      createExecutionContext(),
    );
    expect(response.status).toBe(500);
    expect(response.headers.get("Content-Type")).toBe("application/problem+json");
    expect(await response.text()).not.toContain("TOKEN_ENCRYPTION_KEYS");
    expect(errors.lines()).toEqual([{ message: "configuration: TOKEN_ENCRYPTION_KEYS must hold at least one key" }]);
  });
});
