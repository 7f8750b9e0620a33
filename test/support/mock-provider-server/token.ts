/**
 * Token and revocation endpoints. They check what the real ones check: client authentication (Notion: Basic, JSON
 * and `Notion-Version` only), single-use codes bound to client and redirect URI, PKCE S256, live refresh tokens.
 */
import { createHash, randomUUID } from "node:crypto";
import type { MockProviderKind } from "./clients";
import { issuerFor, parseBody, responseScope, type MockContext } from "./context";
import { mintIdToken } from "./id-tokens";
import { applyBehaviour, sendJson, sendOAuthError } from "./replies";
import type { MockBehaviour, MockFlow } from "./state";

type Fields = Record<string, string>;

/** Checks Notion's transport rules; answers and returns false when they are broken. */
function notionTransportOk(ctx: MockContext, json: boolean): boolean {
  if (!ctx.req.headers["notion-version"]) {
    sendJson(ctx.res, 400, { object: "error", status: 400, code: "missing_version", message: "Notion-Version header failed validation." });
    return false;
  }
  if (!json) {
    sendOAuthError(ctx.res, "notion", "invalid_request");
    return false;
  }
  return true;
}

/** RFC 6749 §2.3.1: Basic (form-urldecoded id and secret) or body credentials, never both. Returns the client id. */
function authenticateClient(ctx: MockContext, provider: MockProviderKind, fields: Fields): string | null {
  const header = /^Basic (.+)$/.exec(ctx.req.headers.authorization ?? "")?.[1];
  const usesBody = fields.client_secret !== undefined;
  let clientId: string | undefined;
  let secret: string | undefined;
  if (header && !usesBody) {
    const decoded = Buffer.from(header, "base64").toString("utf8");
    const separator = decoded.indexOf(":");
    const decode = (value: string) => decodeURIComponent(value.replace(/\+/g, " "));
    clientId = separator > 0 ? decode(decoded.slice(0, separator)) : undefined;
    secret = separator > 0 ? decode(decoded.slice(separator + 1)) : undefined;
  } else if (usesBody && !header && provider !== "notion") {
    clientId = fields.client_id;
    secret = fields.client_secret;
  }
  const known = ctx.clients[provider].some((client) => client.clientId === clientId && client.clientSecret === secret);
  if (!known || clientId === undefined) {
    sendOAuthError(ctx.res, provider, "invalid_client");
    return null;
  }
  return clientId;
}

function readRequest(ctx: MockContext, provider: MockProviderKind): { fields: Fields; clientId: string } | null {
  const parsed = parseBody(ctx);
  if (provider === "notion" && !notionTransportOk(ctx, parsed?.json ?? false)) return null;
  if (!parsed) {
    sendOAuthError(ctx.res, provider, "invalid_request");
    return null;
  }
  const clientId = authenticateClient(ctx, provider, parsed.fields);
  return clientId === null ? null : { fields: parsed.fields, clientId };
}

export async function token(ctx: MockContext, provider: MockProviderKind, realm: string): Promise<void> {
  const request = readRequest(ctx, provider);
  if (!request) return;
  const { fields, clientId } = request;
  if (fields.grant_type === "authorization_code") return exchangeCode(ctx, provider, realm, fields, clientId);
  if (fields.grant_type === "refresh_token") return refresh(ctx, provider, fields, clientId);
  sendOAuthError(ctx.res, provider, "unsupported_grant_type");
}

async function exchangeCode(ctx: MockContext, provider: MockProviderKind, realm: string, fields: Fields, clientId: string): Promise<void> {
  const grant = ctx.state.codes.get(fields.code ?? "");
  const flow = grant && ctx.state.flows.get(grant.flowId);
  if (!grant || !flow || flow.provider !== provider || grant.expiresAt < Date.now())
    return sendOAuthError(ctx.res, provider, "invalid_grant");
  ctx.entry.flow = flow.id;
  if (grant.used) return sendOAuthError(ctx.res, provider, "invalid_grant", { variant: "code_reused" });
  if (flow.clientId !== clientId) return sendOAuthError(ctx.res, provider, "invalid_grant");
  if (flow.realm !== realm) return sendOAuthError(ctx.res, provider, "invalid_grant", { variant: "wrong_tenant" });
  if (fields.redirect_uri !== grant.redirectUri) {
    return provider === "google"
      ? sendOAuthError(ctx.res, provider, "redirect_uri_mismatch", { description: "Bad Request" })
      : sendOAuthError(ctx.res, provider, "invalid_grant", { variant: "redirect_mismatch" });
  }
  if (grant.codeChallenge !== null && !pkceMatches(grant.codeChallenge, grant.codeChallengeMethod, fields.code_verifier)) {
    return sendOAuthError(ctx.res, provider, "invalid_grant", { variant: "pkce_mismatch", description: "Invalid code verifier." });
  }
  grant.used = true;
  const behaviour = nextBehaviour(flow, "token");
  if (await applyBehaviour(ctx.res, provider, behaviour, ctx.wait)) return;
  sendJson(ctx.res, 200, await tokenResponse(ctx, flow, { nonce: grant.nonce, codeGrant: true, behaviour }));
}

async function refresh(ctx: MockContext, provider: MockProviderKind, fields: Fields, clientId: string): Promise<void> {
  const refreshToken = fields.refresh_token ?? "";
  const flow = ctx.state.flowOfToken(refreshToken);
  if (flow) ctx.entry.flow = flow.id;
  if (!flow || flow.provider !== provider || !flow.refreshTokens.get(refreshToken)?.alive || flow.clientId !== clientId) {
    return sendOAuthError(ctx.res, provider, "invalid_grant");
  }
  const behaviour = nextBehaviour(flow, "token");
  const rotate = async () => {
    // Notion's rotation kills the old refresh token; Microsoft's leaves it valid; Google does not rotate.
    if (provider === "notion") flow.refreshTokens.set(refreshToken, { alive: false });
    return tokenResponse(ctx, flow, { nonce: null, codeGrant: false, behaviour });
  };
  // `after_rotation`: the refresh happened upstream before the response was lost (delay or drop).
  const performed = behaviour?.after_rotation ? await rotate() : null;
  if (await applyBehaviour(ctx.res, provider, behaviour, ctx.wait)) return;
  sendJson(ctx.res, 200, performed ?? (await rotate()));
}

function nextBehaviour(flow: MockFlow, endpoint: "token" | "revoke"): MockBehaviour | undefined {
  if (endpoint === "token") flow.tokenRequests += 1;
  return flow.queued[endpoint].shift();
}

function pkceMatches(challenge: string, method: string | null, verifier: string | undefined): boolean {
  if (!verifier) return false;
  const computed = method === "S256" ? createHash("sha256").update(verifier).digest("base64url") : verifier;
  return computed === challenge;
}

interface ResponseOptions {
  nonce: string | null;
  codeGrant: boolean;
  behaviour: MockBehaviour | undefined;
}

async function tokenResponse(ctx: MockContext, flow: MockFlow, options: ResponseOptions): Promise<Record<string, unknown>> {
  const { provider, account } = flow;
  const granted = flow.grantedScopes;
  const idToken = async () =>
    mintIdToken(ctx.keys, {
      flow,
      issuer: issuerFor(ctx.origin, provider, flow.realm, account),
      nonce: options.nonce,
      clientSecret: ctx.clients[provider].find((client) => client.clientId === flow.clientId)?.clientSecret ?? "",
      now: Date.now(),
    });
  const withIdToken = async ({ scope, ...body }: Record<string, unknown>) => ({
    ...body,
    ...(options.behaviour?.omit_scope ? {} : { scope }),
    ...(granted.includes("openid") ? { id_token: await idToken() } : {}),
  });
  const expiresIn = (fallback: number) => options.behaviour?.expires_in ?? fallback;
  switch (provider) {
    case "google":
      return withIdToken({
        access_token: ctx.state.issueToken(flow, "access", "ya29.mock-"),
        expires_in: expiresIn(3599),
        // Google returns a refresh token only from the code exchange and never rotates it.
        ...(options.codeGrant ? { refresh_token: ctx.state.issueToken(flow, "refresh", "1//mock-") } : {}),
        scope: responseScope(provider, granted),
        token_type: "Bearer",
      });
    case "microsoft": {
      const lifetime = expiresIn(3600 + Math.floor(Math.random() * 1800));
      return withIdToken({
        token_type: "Bearer",
        scope: responseScope(provider, granted),
        expires_in: lifetime,
        ext_expires_in: lifetime,
        access_token: ctx.state.issueToken(flow, "access", "eyJ0.mock-"),
        ...(granted.includes("offline_access") ? { refresh_token: ctx.state.issueToken(flow, "refresh", "1.AXkA-mock-") } : {}),
      });
    }
    case "notion":
      return {
        access_token: ctx.state.issueToken(flow, "access", "ntn_mock"),
        token_type: "bearer",
        refresh_token: ctx.state.issueToken(flow, "refresh", "nrt_mock"),
        bot_id: randomUUID(),
        workspace_id: account.workspace_id,
        workspace_name: account.workspace_name,
        workspace_icon: null,
        owner:
          account.owner === "workspace"
            ? { type: "workspace", workspace: true }
            : account.owner !== "user"
              ? { type: account.owner }
              : {
                  type: "user",
                  user: {
                    object: "user",
                    id: account.user_id,
                    type: "person",
                    name: account.name,
                    avatar_url: null,
                    person: { email: account.email },
                  },
                },
        duplicated_template_id: null,
        request_id: randomUUID(),
        // Notion documents no expiry; a scripted one lets a test put a Notion token inside the cron's look-ahead.
        ...(options.behaviour?.expires_in === undefined ? {} : { expires_in: options.behaviour.expires_in }),
      };
    case "oidc":
      return withIdToken({
        access_token: ctx.state.issueToken(flow, "access", "oidc-at-"),
        token_type: "Bearer",
        expires_in: expiresIn(3600),
        scope: responseScope(provider, granted),
        ...(granted.includes("offline_access") ? { refresh_token: ctx.state.issueToken(flow, "refresh", "oidc-rt-") } : {}),
      });
  }
}

/** RFC 7009 revocation (Google: form, no client auth needed; Notion: JSON + Basic; OIDC: form + client auth). */
export async function revoke(ctx: MockContext, provider: MockProviderKind): Promise<void> {
  let fields: Fields;
  if (provider === "google") {
    fields = parseBody(ctx)?.fields ?? {};
  } else {
    const request = readRequest(ctx, provider);
    if (!request) return;
    fields = request.fields;
  }
  const value = fields.token ?? "";
  const flow = ctx.state.flowOfToken(value);
  if (flow) ctx.entry.flow = flow.id;
  if (flow && (await applyBehaviour(ctx.res, provider, nextBehaviour(flow, "revoke"), ctx.wait))) return;
  const alive = flow && (flow.refreshTokens.get(value)?.alive || flow.accessTokens.get(value)?.alive);
  if (flow && alive) ctx.state.revokeGrant(flow);
  if (provider === "google" && !alive) {
    sendJson(ctx.res, 400, { error: "invalid_token", error_description: "Token expired or revoked" });
    return;
  }
  sendJson(ctx.res, 200, provider === "notion" ? { request_id: randomUUID() } : {});
}
