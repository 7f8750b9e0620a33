/**
 * Mock Google, YouTube, Microsoft, Notion and OpenID Connect endpoints, served by Node (vitest globalSetup) on
 * 127.0.0.1. They behave as reference/providers.md documents: PKCE S256, client authentication, single-use codes,
 * RS256 id_tokens from keys made at start, refresh-token rotation (Google none, Microsoft new token with the old
 * one still valid, Notion new token with the old one dead), revocation ending the whole grant.
 *
 * Endpoints (paths as test/support/bindings.ts configures them):
 *   /google/{authorize,token,revoke,userinfo,jwks}   /youtube/channels
 *   /microsoft/{tenant}/oauth2/v2.0/{authorize,token}   /microsoft/discovery/v2.0/keys   /microsoft/graph/me
 *   /notion/v1/oauth/{authorize,token,revoke}
 *   /oidc/{key}/{.well-known/openid-configuration,authorize,token,revoke,userinfo,jwks}: an issuer
 *     `{origin}/oidc/{key}` for any key (client MOCK_OIDC_CLIENT from mock-provider-server/clients.ts).
 *
 * Steering one flow (add to the provider authorization URL before following it; everything is bound to the code,
 * so parallel test files never collide):
 *   mock_flow=<id>             names the flow (default: random); requests and tokens are logged under it.
 *                              Authorizing again with the same id is a re-authorization of the same grant.
 *   mock_account=<json>        overrides the signed-in account: sub, email, email_verified, name, tid, oid, xms_edov,
 *                              channel ({id,title} or null), owner ("user"|"workspace"|other bare type), workspace_id,
 *                              workspace_name, user_id (defaults: DEFAULT_ACCOUNT in mock-provider-server/state.ts).
 *   mock_scope=<a b c>         the scopes the user really grants (default: those requested).
 *   mock_grant=<name>          Google (and YouTube, which uses Google's endpoints): flows naming the same grant share
 *                              it, as Google keeps one grant per OAuth client and account; revoking any token of
 *                              one ends them all. Without it each flow is a grant of its own.
 *   mock_error=<code>          the user refuses: redirect with `error=<code>` (e.g. access_denied) and `state`.
 *   mock_callback_iss=1|<iss>  adds `iss` to the callback (1 = the provider's own issuer), as Google does.
 *   mock_id_token=<tamper>     wrong_aud, wrong_iss, wrong_nonce, expired, stale_iat, bad_signature, unknown_kid,
 *                              alg_none, alg_hs256, es256 (valid, ES256), multi_aud_without_azp, multi_aud_with_azp.
 *   mock_token_failure=<kind>  how the code exchange fails: invalid_grant, invalid_client, invalid_request,
 *                              unauthorized_client, temporarily_unavailable, rate_limited (429 + Retry-After),
 *                              server_error_html (500 HTML), delay, drop (connection reset), malformed_json,
 *                              missing_access_token; with mock_token_status, mock_delay_ms, mock_retry_after.
 *   mock_expires_in=<json>     `expires_in` of the code exchange (`"3599"` sends a string).
 *
 * Control API:
 *   GET  /__control/requests?flow=<id>&path=<path>   {"requests":[{at,method,path,query,headers,body,flow}]}
 *        (at least one filter; `path` alone e.g. counts discovery fetches of a test-unique OIDC key);
 *        `&wait_for=N` answers only once N such requests arrived (a long-poll, at most 15 s).
 *   GET  /__control/flows/<id>    {provider, realm, account, granted_scopes, refresh_tokens:[{token,alive}],
 *                                  access_tokens:[…], token_requests, revocations, queued}
 *   POST /__control/flows/<id>/responses  {"endpoint":"token"|"revoke","responses":[Behaviour…]}: answers for the
 *        flow's next token (refresh) or revocation requests, in order; Behaviour = {failure?, status?, delay_ms?,
 *        retry_after?, expires_in?, omit_scope?} (MockBehaviour in mock-provider-server/state.ts). May precede the authorization.
 *   POST /__control/flows/<id>/expire-access-token  {"access_token"}: the resource endpoints (userinfo, channels, me)
 *        answer 401 for that token from now on; the grant and its refresh token live on.
 *   PUT  /__control/oidc/<key>    discovery document overrides for that issuer key (`null` removes a member).
 *   POST /__control/oidc/<key>/responses  {"endpoint":"discovery"|"jwks","responses":[{status?, hold?}…]}: answers
 *        for the key's next discovery or key set requests, in order (IssuerBehaviour in mock-provider-server/state.ts).
 *   POST /__control/oidc/<key>/release    lets the key's held requests answer.
 *   ANY  /__control/respond?status=&body=&content_type=&retry_after=&location=&delay_ms=&drop=1&mock_flow=
 *        a stateless endpoint answering exactly that; logged under mock_flow.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { authorize } from "./mock-provider-server/authorize";
import { mockClients } from "./mock-provider-server/clients";
import type { MockContext } from "./mock-provider-server/context";
import { control } from "./mock-provider-server/control";
import { createMockKeys, type MockKeys } from "./mock-provider-server/id-tokens";
import { sendJson } from "./mock-provider-server/replies";
import { googleUserinfo, graphMe, jwks, oidcDiscovery, oidcJwks, oidcUserinfo, youtubeChannels } from "./mock-provider-server/resources";
import { MockState } from "./mock-provider-server/state";
import { revoke, token } from "./mock-provider-server/token";

type Route = (ctx: MockContext, match: RegExpExecArray) => void | Promise<void>;

const ROUTES: [RegExp, Route][] = [
  [/^\/google\/authorize$/, (ctx) => authorize(ctx, "google", "google")],
  [/^\/google\/token$/, (ctx) => token(ctx, "google", "google")],
  [/^\/google\/revoke$/, (ctx) => revoke(ctx, "google")],
  [/^\/google\/userinfo$/, googleUserinfo],
  [/^\/google\/jwks$/, jwks],
  [/^\/youtube\/channels$/, youtubeChannels],
  [/^\/microsoft\/([^/]+)\/oauth2\/v2\.0\/authorize$/, (ctx, match) => authorize(ctx, "microsoft", match[1] ?? "")],
  [/^\/microsoft\/discovery\/v2\.0\/keys$/, jwks],
  [/^\/microsoft\/graph\/me$/, graphMe],
  [/^\/microsoft\/([^/]+)\/oauth2\/v2\.0\/token$/, (ctx, match) => token(ctx, "microsoft", match[1] ?? "")],
  [/^\/notion\/v1\/oauth\/authorize$/, (ctx) => authorize(ctx, "notion", "notion")],
  [/^\/notion\/v1\/oauth\/token$/, (ctx) => token(ctx, "notion", "notion")],
  [/^\/notion\/v1\/oauth\/revoke$/, (ctx) => revoke(ctx, "notion")],
  [/^\/oidc\/([\w-]+)\/\.well-known\/openid-configuration$/, (ctx, match) => oidcDiscovery(ctx, match[1] ?? "")],
  [/^\/oidc\/([\w-]+)\/authorize$/, (ctx, match) => authorize(ctx, "oidc", match[1] ?? "")],
  [/^\/oidc\/([\w-]+)\/token$/, (ctx, match) => token(ctx, "oidc", match[1] ?? "")],
  [/^\/oidc\/([\w-]+)\/revoke$/, (ctx) => revoke(ctx, "oidc")],
  [/^\/oidc\/([\w-]+)\/userinfo$/, oidcUserinfo],
  [/^\/oidc\/([\w-]+)\/jwks$/, (ctx, match) => oidcJwks(ctx, match[1] ?? "")],
];

export interface MockProviders {
  origin: string;
  close(): Promise<void>;
}

export async function startMockProviders(): Promise<MockProviders> {
  const keys = await createMockKeys();
  const state = new MockState();
  const clients = mockClients();
  const server = createServer((req, res) => {
    handle(req, res, { keys, state, clients, origin }).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: "mock_failure" });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

interface Shared {
  keys: MockKeys;
  state: MockState;
  clients: MockContext["clients"];
  origin: string;
}

async function handle(req: IncomingMessage, res: ServerResponse, shared: Shared): Promise<void> {
  const url = new URL(req.url ?? "/", shared.origin);
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks).toString("utf8");
  const entry = {
    at: new Date().toISOString(),
    method: req.method ?? "GET",
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: Object.fromEntries(Object.entries(req.headers).map(([name, value]) => [name, String(value)])),
    body,
    flow: null,
  };
  const ctx: MockContext = { ...shared, req, res, url, body, entry, wait: (ms) => waitUnlessClosed(res, ms) };
  if (url.pathname.startsWith("/__control/")) return control(ctx, url.pathname.slice("/__control/".length));
  shared.state.record(entry);
  for (const [pattern, route] of ROUTES) {
    const match = pattern.exec(url.pathname);
    if (match) return route(ctx, match);
  }
  sendJson(res, 404, { error: "not_found" });
}

/** Resolves true after `ms`, or false as soon as the client disconnects (its timeout fired), freeing the timer. */
function waitUnlessClosed(res: ServerResponse, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      res.off("close", onClose);
      resolve(true);
    }, ms);
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    res.once("close", onClose);
  });
}
