/** The `/__control/…` API tests use to script the mock and inspect what it received (documented in mock-providers.ts). */
import type { MockContext } from "./context";
import { sendJson, sendText } from "./replies";
import type { IssuerBehaviour, LoggedRequest, MockBehaviour } from "./state";

/** The longest a `wait_for` long-poll of the request log is held open. */
const MAX_LOG_WAIT_MS = 15_000;

export async function control(ctx: MockContext, path: string): Promise<void> {
  const [resource, id, action] = path.split("/").filter(Boolean);
  const method = ctx.req.method ?? "GET";
  if (resource === "requests" && method === "GET") return listRequests(ctx);
  if (resource === "flows" && id && !action && method === "GET") return describeFlow(ctx, id);
  if (resource === "flows" && id && action === "responses" && method === "POST") return queueResponses(ctx, id);
  if (resource === "flows" && id && action === "expire-access-token" && method === "POST") return expireAccessToken(ctx, id);
  if (resource === "oidc" && id && !action && method === "PUT") return overrideDiscovery(ctx, id);
  if (resource === "oidc" && id && action === "responses" && method === "POST") return queueIssuerResponses(ctx, id);
  if (resource === "oidc" && id && action === "release" && method === "POST") {
    return sendJson(ctx.res, 200, { released: ctx.state.release(id) });
  }
  if (resource === "respond") return respond(ctx);
  sendJson(ctx.res, 404, { error: "unknown control route" });
}

async function listRequests(ctx: MockContext): Promise<void> {
  const flow = ctx.url.searchParams.get("flow");
  const path = ctx.url.searchParams.get("path");
  if (flow === null && path === null) {
    sendJson(ctx.res, 400, { error: "filter by flow and/or path, so parallel test files never see each other's requests" });
    return;
  }
  const matching = (log: readonly LoggedRequest[]) =>
    log.filter((entry) => (flow === null || entry.flow === flow) && (path === null || entry.path === path));
  // `wait_for=N`: a long-poll that answers once N such requests arrived, so a test needs no polling loop.
  const waitFor = Number(ctx.url.searchParams.get("wait_for") ?? 0);
  if (waitFor > 0) await ctx.state.untilLogged((log) => matching(log).length >= waitFor, MAX_LOG_WAIT_MS);
  sendJson(ctx.res, 200, { requests: matching(ctx.state.log) });
}

function describeFlow(ctx: MockContext, flowId: string): void {
  const flow = ctx.state.flows.get(flowId);
  if (!flow) {
    sendJson(ctx.res, 404, { error: "unknown flow" });
    return;
  }
  const tokens = (map: Map<string, { alive: boolean }>) => [...map].map(([token, { alive }]) => ({ token, alive }));
  sendJson(ctx.res, 200, {
    provider: flow.provider,
    realm: flow.realm,
    account: flow.account,
    granted_scopes: flow.grantedScopes,
    refresh_tokens: tokens(flow.refreshTokens),
    access_tokens: tokens(flow.accessTokens),
    token_requests: flow.tokenRequests,
    revocations: flow.revocations,
    queued: flow.queued,
  });
}

function queueResponses(ctx: MockContext, flowId: string): void {
  const body = JSON.parse(ctx.body || "{}") as { endpoint?: string; responses?: MockBehaviour[] };
  if ((body.endpoint !== "token" && body.endpoint !== "revoke") || !Array.isArray(body.responses)) {
    sendJson(ctx.res, 400, { error: 'expected {"endpoint":"token"|"revoke","responses":[…]}' });
    return;
  }
  const queue = ctx.state.queuesFor(flowId)[body.endpoint];
  queue.push(...body.responses);
  sendJson(ctx.res, 200, { queued: queue.length });
}

/**
 * Ends one access token of the flow before its time, as a provider does after a password change or a security event
 * (Microsoft's continuous access evaluation): the resource endpoints answer it 401, the grant and its refresh token
 * live on.
 */
function expireAccessToken(ctx: MockContext, flowId: string): void {
  const token = (JSON.parse(ctx.body || "{}") as { access_token?: unknown }).access_token;
  const entry = typeof token === "string" ? ctx.state.flows.get(flowId)?.accessTokens.get(token) : undefined;
  if (!entry) {
    sendJson(ctx.res, 404, { error: "no such access token in this flow" });
    return;
  }
  entry.alive = false;
  sendJson(ctx.res, 200, { expired: true });
}

function queueIssuerResponses(ctx: MockContext, key: string): void {
  const body = JSON.parse(ctx.body || "{}") as { endpoint?: string; responses?: IssuerBehaviour[] };
  if ((body.endpoint !== "discovery" && body.endpoint !== "jwks") || !Array.isArray(body.responses)) {
    sendJson(ctx.res, 400, { error: 'expected {"endpoint":"discovery"|"jwks","responses":[…]}' });
    return;
  }
  const queue = ctx.state.issuerQueue(key)[body.endpoint];
  queue.push(...body.responses);
  sendJson(ctx.res, 200, { queued: queue.length });
}

function overrideDiscovery(ctx: MockContext, key: string): void {
  ctx.state.discoveryOverrides.set(key, JSON.parse(ctx.body || "{}") as Record<string, unknown>);
  sendJson(ctx.res, 200, { ok: true });
}

/**
 * A stateless stand-in for any endpoint: answers exactly as the query says (`status`, `body`, `content_type`,
 * `retry_after`, `location`, `delay_ms`, `drop=1`). The request is logged under `mock_flow` for assertions on what was
 * sent.
 */
async function respond(ctx: MockContext): Promise<void> {
  const query = ctx.url.searchParams;
  ctx.entry.flow = query.get("mock_flow");
  ctx.state.record(ctx.entry);
  const delay = Number(query.get("delay_ms") ?? 0);
  if (delay > 0 && !(await ctx.wait(delay))) return;
  if (query.get("drop") === "1") {
    ctx.res.socket?.destroy();
    return;
  }
  const headers: Record<string, string> = {};
  const retryAfter = query.get("retry_after");
  if (retryAfter !== null) headers["Retry-After"] = retryAfter;
  const location = query.get("location");
  if (location !== null) headers.Location = location;
  sendText(ctx.res, Number(query.get("status") ?? 200), query.get("body") ?? "", query.get("content_type") ?? "application/json", headers);
}
