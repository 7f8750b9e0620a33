/** Key sets, discovery, and the account endpoints (Google userinfo, YouTube channels, Graph /me), bearer-protected. */
import { createHash } from "node:crypto";
import { bearerToken, type MockContext } from "./context";
import { sendJson } from "./replies";
import type { IssuerEndpoint, MockFlow } from "./state";

export function jwks(ctx: MockContext): void {
  sendJson(ctx.res, 200, ctx.keys.jwks, { "Cache-Control": "public, max-age=3600" });
}

/** The flow of a live bearer access token, or answers 401 as the API would. */
function authorizedFlow(ctx: MockContext, unauthorized: unknown): MockFlow | null {
  const token = bearerToken(ctx);
  const flow = token === null ? undefined : ctx.state.flowOfToken(token);
  if (flow) ctx.entry.flow = flow.id;
  if (!flow || !token || !flow.accessTokens.get(token)?.alive) {
    sendJson(ctx.res, 401, unauthorized, { "WWW-Authenticate": 'Bearer error="invalid_token"' });
    return null;
  }
  return flow;
}

const GOOGLE_UNAUTHORIZED = {
  error: { code: 401, message: "Request had invalid authentication credentials.", status: "UNAUTHENTICATED" },
};

export function googleUserinfo(ctx: MockContext): void {
  const flow = authorizedFlow(ctx, GOOGLE_UNAUTHORIZED);
  if (!flow) return;
  const { sub, email, email_verified, name } = flow.account;
  sendJson(ctx.res, 200, { sub, email, email_verified, name, given_name: name.split(" ")[0], picture: null });
}

export function youtubeChannels(ctx: MockContext): void {
  const flow = authorizedFlow(ctx, GOOGLE_UNAUTHORIZED);
  if (!flow) return;
  if (ctx.url.searchParams.get("mine") !== "true") {
    sendJson(ctx.res, 400, { error: { code: 400, message: "No filter selected.", status: "INVALID_ARGUMENT" } });
    return;
  }
  const channel = flow.account.channel;
  const items = channel
    ? [
        {
          kind: "youtube#channel",
          id: channel.id,
          snippet: { title: channel.title, customUrl: `@${channel.title.replace(/\W/g, "").toLowerCase()}` },
        },
      ]
    : [];
  sendJson(ctx.res, 200, { kind: "youtube#channelListResponse", pageInfo: { totalResults: items.length, resultsPerPage: 5 }, items });
}

export function graphMe(ctx: MockContext): void {
  const flow = authorizedFlow(ctx, { error: { code: "InvalidAuthenticationToken", message: "Access token is empty." } });
  if (!flow) return;
  const { account } = flow;
  const personal = account.tid === "9188040d-6c67-4c5b-b112-36a304b66dad";
  sendJson(ctx.res, 200, {
    // Personal accounts get a 16-hex-digit CID here, not the `oid`; their `mail` is often null.
    id: personal ? createHash("sha256").update(account.oid).digest("hex").slice(0, 16) : account.oid,
    displayName: account.name,
    mail: personal ? null : account.email,
    userPrincipalName: account.email,
  });
}

export function oidcUserinfo(ctx: MockContext): void {
  const flow = authorizedFlow(ctx, { error: "invalid_token" });
  if (!flow) return;
  const { sub, email, email_verified, name } = flow.account;
  sendJson(ctx.res, 200, { sub, email, email_verified, name });
}

/** `{origin}/oidc/{key}`'s metadata, with the overrides a test set through the control API (`null` removes). */
export async function oidcDiscovery(ctx: MockContext, key: string): Promise<void> {
  if (await answeredAsScripted(ctx, key, "discovery")) return;
  const issuer = `${ctx.origin}/oidc/${key}`;
  const document: Record<string, unknown> = {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    revocation_endpoint: `${issuer}/revoke`,
    userinfo_endpoint: `${issuer}/userinfo`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ["code"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: ["RS256"],
    token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    code_challenge_methods_supported: ["S256"],
    scopes_supported: ["openid", "email", "profile", "offline_access"],
    authorization_response_iss_parameter_supported: true,
  };
  for (const [name, value] of Object.entries(ctx.state.discoveryOverrides.get(key) ?? {})) {
    if (value === null) delete document[name];
    else document[name] = value;
  }
  sendJson(ctx.res, 200, document);
}

/** `{origin}/oidc/{key}/jwks`: the shared signing keys, unless the test scripted this request's answer. */
export async function oidcJwks(ctx: MockContext, key: string): Promise<void> {
  if (await answeredAsScripted(ctx, key, "jwks")) return;
  jwks(ctx);
}

/**
 * Applies the next scripted behaviour of the key's endpoint: holds the request until released, then answers an
 * error status. Returns false when the request should be answered normally.
 */
async function answeredAsScripted(ctx: MockContext, key: string, endpoint: IssuerEndpoint): Promise<boolean> {
  const behaviour = ctx.state.issuerQueue(key)[endpoint].shift();
  if (!behaviour) return false;
  if (behaviour.hold) {
    const clientGone = new Promise<void>((resolve) => ctx.res.once("close", () => resolve()));
    // Nobody is left to answer when the client gave up (its timeout fired).
    if (!(await ctx.state.hold(key, clientGone))) return true;
  }
  const status = behaviour.status ?? 200;
  if (status === 200) return false;
  sendJson(ctx.res, status, { error: status >= 500 ? "temporarily_unavailable" : "not_found" });
  return true;
}
