/**
 * Authorization endpoints: the user "signs in and consents" at once, and the browser is redirected with a code.
 * The test steers what happens with `mock_*` parameters added to the authorization URL (see mock-providers.ts).
 */
import { randomBytes } from "node:crypto";
import type { MockProviderKind } from "./clients";
import { issuerFor, type MockContext } from "./context";
import { redirect, sendText } from "./replies";
import { DEFAULT_ACCOUNT, newFlowId, type IdTokenTamper, type MockAccount, type MockBehaviour } from "./state";

const CODE_TTL_MS = 10 * 60 * 1000;

export function authorize(ctx: MockContext, provider: MockProviderKind, realm: string): void {
  const params = ctx.url.searchParams;
  const clientId = params.get("client_id") ?? "";
  const redirectUri = params.get("redirect_uri");
  // Like the real providers, an unknown client or a missing redirect URI is shown to the user, never redirected.
  if (!ctx.clients[provider].some((client) => client.clientId === clientId)) {
    sendText(ctx.res, 400, "<h1>Error 401: invalid_client</h1><p>The OAuth client was not found.</p>", "text/html");
    return;
  }
  if (!redirectUri) {
    sendText(ctx.res, 400, "<h1>Error 400: invalid_request</h1><p>Missing redirect_uri.</p>", "text/html");
    return;
  }
  const flowId = params.get("mock_flow") ?? newFlowId();
  ctx.entry.flow = flowId;
  const callback = new URL(redirectUri);
  const state = params.get("state");
  if (state !== null) callback.searchParams.set("state", state);

  const refusal = params.get("mock_error") ?? refusalOf(provider, params);
  if (refusal) {
    callback.searchParams.set("error", refusal);
    if (provider === "microsoft") callback.searchParams.set("error_description", `AADSTS65004: User declined to consent.`);
    redirect(ctx.res, callback);
    return;
  }

  const requested = (params.get("scope") ?? "").split(" ").filter(Boolean);
  const mockScope = params.get("mock_scope");
  const granted = mockScope === null ? requested : mockScope.split(" ").filter(Boolean);
  const account: MockAccount = { ...DEFAULT_ACCOUNT, ...parseJson(params.get("mock_account")) };
  // Authorizing again under the same flow id is a re-authorization: same grant, its tokens stay known.
  const existing = ctx.state.flows.get(flowId);
  // Only Google shares one grant between several authorizations (its own and YouTube's, same client and account).
  const grant = provider === "google" ? params.get("mock_grant") : null;
  const flow =
    existing ??
    ctx.state.createFlow({ id: flowId, provider, realm, clientId, account, grantedScopes: granted, grant, idTokenTamper: null });
  Object.assign(flow, { realm, clientId, account, grantedScopes: granted, grant });
  flow.idTokenTamper = (params.get("mock_id_token") as IdTokenTamper | null) ?? null;
  const tokenBehaviour = behaviourFrom(params);
  if (tokenBehaviour) flow.queued.token.unshift(tokenBehaviour);

  const code = randomBytes(24).toString("base64url");
  ctx.state.codes.set(code, {
    flowId,
    redirectUri,
    // Notion has no PKCE and ignores the parameters.
    codeChallenge: provider === "notion" ? null : params.get("code_challenge"),
    codeChallengeMethod: provider === "notion" ? null : (params.get("code_challenge_method") ?? "plain"),
    nonce: params.get("nonce"),
    used: false,
    expiresAt: Date.now() + CODE_TTL_MS,
  });
  callback.searchParams.set("code", code);
  if (provider === "google") callback.searchParams.set("scope", granted.join(" "));
  const iss = params.get("mock_callback_iss");
  if (iss !== null) callback.searchParams.set("iss", iss === "1" ? issuerFor(ctx.origin, provider, realm, account) : iss);
  redirect(ctx.res, callback);
}

/** Requests the real provider would refuse on its redirect (rather than on its own error page). */
function refusalOf(provider: MockProviderKind, params: URLSearchParams): string | null {
  if (params.get("response_type") !== "code") return "unsupported_response_type";
  if (provider === "notion" && params.get("owner") !== "user") return "invalid_request";
  if (provider === "microsoft" && (params.get("response_mode") ?? "query") !== "query") return "invalid_request";
  return null;
}

/** `mock_token_failure` (+ `mock_token_status`, `mock_delay_ms`, `mock_retry_after`) and/or `mock_expires_in`. */
function behaviourFrom(params: URLSearchParams): MockBehaviour | null {
  const failure = params.get("mock_token_failure") as MockBehaviour["failure"] | null;
  const expiresIn = params.get("mock_expires_in");
  if (!failure && expiresIn === null) return null;
  const behaviour: MockBehaviour = {};
  if (failure) behaviour.failure = failure;
  const status = params.get("mock_token_status");
  if (status) behaviour.status = Number(status);
  const delay = params.get("mock_delay_ms");
  if (delay) behaviour.delay_ms = Number(delay);
  const retryAfter = params.get("mock_retry_after");
  if (retryAfter) behaviour.retry_after = retryAfter;
  // JSON, so `3599` is sent as a number and `"3599"` as a string.
  if (expiresIn !== null) behaviour.expires_in = JSON.parse(expiresIn) as number | string;
  return behaviour;
}

function parseJson(value: string | null): Partial<MockAccount> {
  return value ? (JSON.parse(value) as Partial<MockAccount>) : {};
}
