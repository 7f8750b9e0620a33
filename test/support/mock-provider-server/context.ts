/** What every mock endpoint handler receives, and the provider facts more than one handler needs. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { MockClient, MockProviderKind } from "./clients";
import type { MockKeys } from "./id-tokens";
import type { LoggedRequest, MockAccount, MockState } from "./state";

export interface MockContext {
  state: MockState;
  keys: MockKeys;
  origin: string;
  clients: Record<MockProviderKind, MockClient[]>;
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  body: string;
  /** The log entry of this request; handlers fill in `flow` once they know it. */
  entry: LoggedRequest;
  /** Waits `ms`; resolves false if the client went away meanwhile (its timeout fired). */
  wait(ms: number): Promise<boolean>;
}

/** The id_token issuer: Microsoft's depends on the account's tenant, as the real one does. */
export function issuerFor(origin: string, provider: MockProviderKind, realm: string, account: MockAccount): string {
  switch (provider) {
    case "google":
      return `${origin}/google`;
    case "microsoft":
      return `${origin}/microsoft/${account.tid}/v2.0`;
    case "oidc":
      return `${origin}/oidc/${realm}`;
    case "notion":
      return `${origin}/notion`;
  }
}

const GOOGLE_AUTH = "https://www.googleapis.com/auth/";
const GRAPH = "https://graph.microsoft.com/";
const OIDC_SHORT_SCOPES = new Set(["openid", "profile", "email", "offline_access"]);

/** The `scope` of a token response, worded as the provider words it (granted scopes in request notation in). */
export function responseScope(provider: MockProviderKind, granted: readonly string[]): string {
  switch (provider) {
    case "google":
      // Google answers `email`/`profile` as their userinfo URLs.
      return granted.map((scope) => (scope === "email" || scope === "profile" ? `${GOOGLE_AUTH}userinfo.${scope}` : scope)).join(" ");
    case "microsoft":
      // Graph scopes come back long; `offline_access` is usually absent.
      return granted
        .filter((scope) => scope !== "offline_access")
        .map((scope) => (OIDC_SHORT_SCOPES.has(scope) || scope.includes("://") ? scope : GRAPH + scope))
        .join(" ");
    default:
      return granted.join(" ");
  }
}

/** Parses an `application/x-www-form-urlencoded` or JSON body into string fields; `null` when it is neither. */
export function parseBody(ctx: MockContext): { fields: Record<string, string>; json: boolean } | null {
  const type = ctx.req.headers["content-type"] ?? "";
  if (type.startsWith("application/json")) {
    try {
      const value: unknown = JSON.parse(ctx.body);
      if (!value || typeof value !== "object") return null;
      const fields = Object.fromEntries(Object.entries(value).filter(([, field]) => typeof field === "string")) as Record<string, string>;
      return { fields, json: true };
    } catch {
      return null;
    }
  }
  if (type.startsWith("application/x-www-form-urlencoded")) {
    return { fields: Object.fromEntries(new URLSearchParams(ctx.body)), json: false };
  }
  return null;
}

export function bearerToken(ctx: MockContext): string | null {
  const match = /^Bearer (.+)$/.exec(ctx.req.headers.authorization ?? "");
  return match?.[1] ?? null;
}
