/** Notion public integrations: no scopes, no PKCE, JSON token requests with HTTP Basic. */
import type { BuiltInProviderConfig } from "../config";
import {
  createAuthorizationUrl,
  exchangeAuthorizationCode,
  refreshAccessToken,
  requireCredentials,
  revokeAt,
  type TokenEndpoint,
} from "./oauth-client";
import type { IdentityResult, Provider, TokenSet } from "./provider";

const NOTION_ENDPOINTS = {
  authorizationUrl: "https://api.notion.com/v1/oauth/authorize",
  tokenUrl: "https://api.notion.com/v1/oauth/token",
  revocationUrl: "https://api.notion.com/v1/oauth/revoke",
} as const;

/** The API version our request and response shapes follow. */
export const NOTION_VERSION = "2026-03-11";

export function createNotionProvider(config: BuiltInProviderConfig): Provider {
  const endpoints = { ...NOTION_ENDPOINTS, ...config.endpoints };
  const credentials = () => requireCredentials("notion", config.credentials);
  // Notion documents JSON bodies and Basic authentication only.
  const tokenEndpoint = (): TokenEndpoint => ({
    url: endpoints.tokenUrl,
    credentials: credentials(),
    clientAuth: "basic",
    encoding: "json",
    headers: { "Notion-Version": NOTION_VERSION },
    timeoutMs: config.upstreamTimeoutMs,
  });

  return {
    id: "notion",
    name: "Notion",
    configured: config.credentials !== null,
    // Capabilities are set on the integration and pages are picked by the user: there is nothing to request.
    defaultScopes: [],
    allowedScopes: [],
    // Notion has no PKCE; the single-use, browser-bound `state` is the only CSRF and code-injection defence.
    usesPkce: false,
    issuer: async () => ({ issuer: null, requiresIssParameter: false }),
    async authorizationUrl(request) {
      const url = createAuthorizationUrl(endpoints.authorizationUrl, credentials().clientId, request, {
        scopes: [],
        pkce: false,
      });
      url.searchParams.set("owner", "user");
      return url;
    },
    // `redirect_uri` is on the authorization URL, so Notion requires it here too.
    exchangeCode: (code, _codeVerifier, redirectUri) => exchangeAuthorizationCode(tokenEndpoint(), code, null, redirectUri),
    refresh: (refreshToken) => refreshAccessToken(tokenEndpoint(), refreshToken),
    revoke: (token) => revokeAt(tokenEndpoint(), endpoints.revocationUrl, token, null),
    identify: async (tokens) => identifyOwner(tokens),
    normalizeScopes: () => [],
  };
}

interface NotionOwner {
  type?: unknown;
  user?: { id?: unknown; name?: unknown; person?: { email?: unknown } };
}

/** The token response names the workspace and the person who authorized; one connection per both. */
function identifyOwner(tokens: TokenSet): IdentityResult {
  const { workspace_id: workspaceId, workspace_name: workspaceName } = tokens.body;
  const owner = tokens.body.owner as NotionOwner | undefined;
  if (typeof workspaceId !== "string" || workspaceId === "") {
    return { ok: false, reason: "identity_failed", detail: "token response has no workspace_id" };
  }
  if (owner?.type === "workspace") {
    // Legacy workspace-level tokens have no person behind them.
    return { ok: true, account: { id: `${workspaceId}:workspace`, ...(typeof workspaceName === "string" ? { name: workspaceName } : {}) } };
  }
  const user = owner?.type === "user" ? owner.user : undefined;
  if (typeof user?.id !== "string" || user.id === "") {
    return { ok: false, reason: "identity_failed", detail: "token response has no owner user" };
  }
  const email = user.person?.email;
  return {
    ok: true,
    account: {
      id: `${workspaceId}:${user.id}`,
      ...(typeof email === "string" ? { email } : {}),
      ...(typeof user.name === "string" ? { name: user.name } : {}),
    },
  };
}
