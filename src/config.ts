import { z } from "zod";

/** The built-in providers; `OIDC_PROVIDERS` ids may not shadow them. */
export const BUILT_IN_PROVIDER_IDS = ["google", "youtube", "microsoft", "notion"] as const;
export type BuiltInProviderId = (typeof BUILT_IN_PROVIDER_IDS)[number];

/**
 * Ids kept for the service's own paths beside the providers' (`/v1/connect-sessions`, `/v1/connect-verifications`, an
 * application's verify step): `OIDC_PROVIDERS` may not use them, so no provider's URLs can ever be mistaken for those.
 */
export const RESERVED_PROVIDER_IDS = ["verify", "sessions", "verifications"] as const;

const ENDPOINT_VARIABLES = {
  AUTHORIZATION_URL: "authorizationUrl",
  TOKEN_URL: "tokenUrl",
  REVOCATION_URL: "revocationUrl",
  USERINFO_URL: "userinfoUrl",
  JWKS_URL: "jwksUrl",
  ISSUER: "issuer",
} as const;

export interface EndpointOverrides {
  authorizationUrl?: string;
  tokenUrl?: string;
  revocationUrl?: string;
  userinfoUrl?: string;
  jwksUrl?: string;
  issuer?: string;
}

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

export interface BuiltInProviderConfig {
  credentials: ClientCredentials | null;
  endpoints: EndpointOverrides;
  /** Bound on one token endpoint call (`UPSTREAM_TIMEOUT_MS`). */
  upstreamTimeoutMs: number;
}

export interface OidcProviderConfig {
  id: string;
  name: string;
  issuer: string;
  credentials: ClientCredentials | null;
  scopes: string[];
  defaultScopes: string[];
  authorizationParams: Record<string, string>;
  upstreamTimeoutMs: number;
  integrations: IntegrationDeclaration[];
}

/** An integration an `OIDC_PROVIDERS` entry declares for its provider. */
export interface IntegrationDeclaration {
  key: string;
  name: string;
  description: string;
  scopes: string[];
}

export interface EncryptionKey {
  kid: string;
  /** 32 raw bytes. */
  key: Uint8Array<ArrayBuffer>;
}

export interface CallerAuthConfig {
  jwtSecret: string | null;
  jwksUrl: string | null;
  /** Bound on one fetch of the key set at `jwksUrl` (`UPSTREAM_TIMEOUT_MS`). */
  jwksTimeoutMs: number;
  issuer: string | null;
  /** Required with `jwksUrl`. */
  audience: string | null;
}

export interface Config {
  publicBaseUrl: string;
  returnToOrigins: readonly string[];
  corsOrigins: readonly string[];
  auth: CallerAuthConfig;
  encryptionKeys: readonly EncryptionKey[];
  providers: {
    google: BuiltInProviderConfig;
    youtube: BuiltInProviderConfig;
    microsoft: BuiltInProviderConfig & { tenant: string };
    notion: BuiltInProviderConfig;
  };
  oidcProviders: readonly OidcProviderConfig[];
  refreshLookaheadSeconds: number;
  auditRetentionDays: number;
  /**
   * Where a completed flow sends the browser (with `flow_id`) to wait for `POST /v1/connect-verifications` by the
   * flow's own user (`CONNECT_VERIFY_URL`); `null`: flows complete at their callback.
   */
  connectVerifyUrl: string | null;
}

/** A configuration problem; the message names the variable, never its value. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`configuration: ${variable} ${reason}`);
  }
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** Production endpoints are https; loopback http is accepted for local development and tests. */
export function isAllowedEndpoint(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  return url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname));
}

const endpointUrl = z.string().refine(isAllowedEndpoint, "must be an https URL (or http on loopback)");
/** An optional URL; an empty value counts as unset, as for every other optional variable (tests bind them all). */
const optionalEndpointUrl = z
  .string()
  .optional()
  .transform((value) => (value?.trim() ? value : undefined))
  .pipe(endpointUrl.optional());
const origin = endpointUrl.transform((value) => new URL(value).origin);
const originList = z
  .string()
  .default("")
  .transform((value, ctx) => {
    const origins: string[] = [];
    for (const item of value
      .split(",")
      .map((part) => part.trim())
      .filter(Boolean)) {
      const parsed = origin.safeParse(item);
      if (!parsed.success) {
        ctx.addIssue({ code: "custom", message: "must list https origins (or http on loopback)" });
        return z.NEVER;
      }
      origins.push(parsed.data);
    }
    return origins;
  });
const optionalText = z
  .string()
  .optional()
  .transform((value) => (value && value.trim() !== "" ? value.trim() : null));
const positiveInteger = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === "" ? String(fallback) : value))
    .pipe(z.string().regex(/^\d+$/, "must be a whole number").transform(Number))
    .pipe(
      z
        .number()
        .int()
        .positive()
        .max(10 ** 9),
    );

const keyRing = z.string({ error: "is required" }).transform((value, ctx) => {
  const keys: EncryptionKey[] = [];
  for (const entry of value
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean)) {
    const separator = entry.indexOf(":");
    const kid = entry.slice(0, separator);
    const bytes = separator > 0 ? decodeBase64(entry.slice(separator + 1)) : null;
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(kid) || bytes?.length !== 32 || keys.some((key) => key.kid === kid)) {
      ctx.addIssue({ code: "custom", message: "must be kid:base64key pairs of distinct ids and 32-byte keys" });
      return z.NEVER;
    }
    keys.push({ kid, key: bytes });
  }
  if (keys.length === 0) {
    ctx.addIssue({ code: "custom", message: "must hold at least one key" });
    return z.NEVER;
  }
  return keys;
});

const oidcProviderEntry = z.strictObject({
  id: z
    .string()
    .regex(/^[a-z][a-z0-9-]{1,31}$/)
    .refine((id) => !(BUILT_IN_PROVIDER_IDS as readonly string[]).includes(id), "shadows a built-in provider")
    .refine((id) => !(RESERVED_PROVIDER_IDS as readonly string[]).includes(id), "is a reserved id (verify, sessions, verifications)"),
  name: z.string().min(1).max(100),
  issuer: endpointUrl,
  client_id: z.string().min(1),
  scopes: z
    .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/))
    .min(1)
    .max(100),
  default_scopes: z.array(z.string()).max(100).optional(),
  authorization_params: z.record(z.string(), z.string()).optional(),
  integrations: z
    .array(
      z.strictObject({
        key: z.string().regex(/^[a-z][a-z0-9-]{1,47}$/),
        name: z.string().min(1).max(100),
        description: z.string().max(500).default(""),
        scopes: z.array(z.string()).max(50),
      }),
    )
    .max(50)
    .optional(),
});
const oidcProviderList = z
  .string()
  .default("[]")
  .transform((value, ctx) => {
    try {
      return JSON.parse(value === "" ? "[]" : value) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: "must be a JSON array" });
      return z.NEVER;
    }
  })
  .pipe(
    z
      .array(oidcProviderEntry)
      .max(50)
      .refine((entries) => new Set(entries.map((entry) => entry.id)).size === entries.length, "has duplicate ids")
      .refine(
        (entries) => entries.every((entry) => (entry.default_scopes ?? []).every((scope) => entry.scopes.includes(scope))),
        "default_scopes must be a subset of scopes",
      )
      .refine(
        (entries) =>
          entries.every((entry) =>
            (entry.integrations ?? []).every((integration) => integration.scopes.every((scope) => entry.scopes.includes(scope))),
          ),
        "integration scopes must be a subset of the provider's scopes",
      ),
  );

function decodeBase64(value: string): Uint8Array<ArrayBuffer> | null {
  try {
    const binary = atob(value.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(binary, (char) => char.charCodeAt(0));
  } catch {
    return null;
  }
}

type RawEnv = Record<string, unknown>;

function read<T>(env: RawEnv, name: string, schema: z.ZodType<T>): T {
  const value = env[name];
  const parsed = schema.safeParse(typeof value === "string" || value === undefined ? value : String(value));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(name, issue?.message ?? "is malformed");
  }
  return parsed.data;
}

function credentials(env: RawEnv, idName: string, secretName: string): ClientCredentials | null {
  const clientId = read(env, idName, optionalText);
  const clientSecret = read(env, secretName, optionalText);
  return clientId && clientSecret ? { clientId, clientSecret } : null;
}

function endpointOverrides(env: RawEnv, prefix: string): EndpointOverrides {
  const overrides: EndpointOverrides = {};
  for (const [suffix, key] of Object.entries(ENDPOINT_VARIABLES)) {
    const value = read(env, `${prefix}_${suffix}`, optionalEndpointUrl);
    if (value) overrides[key] = value;
  }
  return overrides;
}

/** The secret name of an `OIDC_PROVIDERS` entry: `OIDC_{ID}_CLIENT_SECRET`, `-` turned into `_`. */
export function oidcSecretName(id: string): string {
  return `OIDC_${id.toUpperCase().replace(/-/g, "_")}_CLIENT_SECRET`;
}

export function parseConfig(env: RawEnv): Config {
  const publicBaseUrl = read(env, "PUBLIC_BASE_URL", origin);
  const upstreamTimeoutMs = read(env, "UPSTREAM_TIMEOUT_MS", positiveInteger(10_000).pipe(z.number().min(100).max(60_000)));
  const auth: CallerAuthConfig = {
    jwtSecret: read(env, "AUTH_JWT_SECRET", optionalText),
    jwksUrl: read(env, "AUTH_JWKS_URL", optionalEndpointUrl) ?? null,
    jwksTimeoutMs: upstreamTimeoutMs,
    issuer: read(env, "AUTH_JWT_ISSUER", optionalText),
    audience: read(env, "AUTH_JWT_AUDIENCE", optionalText),
  };
  if (!auth.jwtSecret && !auth.jwksUrl) throw new ConfigError("AUTH_JWT_SECRET", "or AUTH_JWKS_URL is required");
  if (auth.jwtSecret && new TextEncoder().encode(auth.jwtSecret).length < 32) {
    throw new ConfigError("AUTH_JWT_SECRET", "must be at least 32 bytes");
  }
  // A shared identity provider signs tokens for many services with the same keys; only `aud` tells ours apart.
  if (auth.jwksUrl && !auth.audience) throw new ConfigError("AUTH_JWT_AUDIENCE", "is required with AUTH_JWKS_URL");
  const google = credentials(env, "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET");
  const config: Config = {
    publicBaseUrl,
    returnToOrigins: read(env, "RETURN_TO_ORIGINS", originList),
    corsOrigins: read(env, "CORS_ORIGINS", originList),
    auth,
    encryptionKeys: read(env, "TOKEN_ENCRYPTION_KEYS", keyRing),
    providers: {
      google: { credentials: google, endpoints: endpointOverrides(env, "GOOGLE"), upstreamTimeoutMs },
      youtube: {
        credentials: credentials(env, "YOUTUBE_CLIENT_ID", "YOUTUBE_CLIENT_SECRET") ?? google,
        endpoints: endpointOverrides(env, "YOUTUBE"),
        upstreamTimeoutMs,
      },
      microsoft: {
        credentials: credentials(env, "MICROSOFT_CLIENT_ID", "MICROSOFT_CLIENT_SECRET"),
        endpoints: endpointOverrides(env, "MICROSOFT"),
        upstreamTimeoutMs,
        tenant:
          read(
            env,
            "MICROSOFT_TENANT",
            optionalText.pipe(
              z
                .string()
                .regex(/^[A-Za-z0-9.-]{1,64}$/)
                .nullable(),
            ),
          ) ?? "common",
      },
      notion: {
        credentials: credentials(env, "NOTION_CLIENT_ID", "NOTION_CLIENT_SECRET"),
        endpoints: endpointOverrides(env, "NOTION"),
        upstreamTimeoutMs,
      },
    },
    oidcProviders: read(env, "OIDC_PROVIDERS", oidcProviderList).map((entry) => {
      const clientSecret = read(env, oidcSecretName(entry.id), optionalText);
      return {
        id: entry.id,
        name: entry.name,
        issuer: entry.issuer,
        credentials: clientSecret ? { clientId: entry.client_id, clientSecret } : null,
        scopes: entry.scopes,
        defaultScopes: entry.default_scopes ?? entry.scopes.filter((scope) => scope === "openid"),
        authorizationParams: entry.authorization_params ?? {},
        upstreamTimeoutMs,
        integrations: entry.integrations ?? [],
      };
    }),
    refreshLookaheadSeconds: read(env, "REFRESH_LOOKAHEAD_SECONDS", positiveInteger(600)),
    auditRetentionDays: read(env, "AUDIT_RETENTION_DAYS", positiveInteger(365)),
    connectVerifyUrl: read(env, "CONNECT_VERIFY_URL", optionalEndpointUrl) ?? null,
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

const parsed = new WeakMap<object, Config>();

/** The configuration for this environment, parsed once per isolate (per env object). */
export function getConfig(env: object): Config {
  let config = parsed.get(env);
  if (!config) {
    config = parseConfig(env as RawEnv);
    parsed.set(env, config);
  }
  return config;
}
