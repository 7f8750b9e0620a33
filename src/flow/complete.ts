import { grantedScopes } from "../connections/granted-scopes";
import { saveAuthorizedConnection } from "../connections/save-authorized-connection";
import { ProblemError } from "../errors";
import { completeIntegrationActivation } from "../integrations/activate";
import {
  authorizationKey,
  deleteAuthorizationState,
  loadAuthorizationState,
  type AuthorizationState,
} from "../storage/authorization-state";
import { recordConsent, type ConsentKind } from "../storage/consents";
import type { ConnectionRow } from "../storage/schema";
import { userVault } from "../refresh/user-vault";
import { redirectUri, type FlowContext } from "./flow-context";

export interface CallbackParams {
  state?: string | undefined;
  code?: string | undefined;
  error?: string | undefined;
  iss?: string | undefined;
}

/** Our own failure codes on a valid state (DESIGN.md, "Callback outcomes"); the provider's own codes pass through. */
export type CallbackFailure = "exchange_failed" | "invalid_id_token" | "scope_not_granted" | "identity_failed" | "issuer_mismatch";

export type CallbackOutcome =
  | { kind: "connected"; connection: ConnectionRow }
  | { kind: "provider_error"; error: string }
  | { kind: "failed"; error: CallbackFailure; connection?: ConnectionRow; missingScopes?: string[] };

export interface CompletedCallback {
  flow: AuthorizationState;
  outcome: CallbackOutcome;
}

export interface CallbackRequest {
  providerId: string;
  params: CallbackParams;
  /** Whether the browser presents this flow's binding cookie. */
  isBoundBrowser: (flow: AuthorizationState) => Promise<boolean>;
  ip: string | null;
  userAgent: string | null;
}

/** Provider error codes are echoed into the return URL, so only plain OAuth-style codes pass. */
const PROVIDER_ERROR_CODE = /^[a-z0-9_]{1,64}$/;

function invalidState(flow: FlowContext, providerId: string, reason: string, userId: string | null = null): ProblemError {
  flow.audit.defer({ action: "authorization.callback", outcome: "failure", provider: providerId, userId, detail: { reason } });
  return new ProblemError("invalid-state", "Start the connection again from the application.", {
    extensions: { reason },
  });
}

/**
 * Consumes the state exactly once and finishes the authorization: checks the issuer, exchanges the code with
 * the PKCE verifier, verifies the id_token, identifies the account and stores the connection.
 * Throws `invalid-state` when no trusted flow exists (nothing is created and no redirect may happen).
 */
export async function completeAuthorization(flow: FlowContext, request: CallbackRequest): Promise<CompletedCallback> {
  const { providerId, params } = request;
  if (!params.state) throw invalidState(flow, providerId, "missing_state");
  const state = await loadAuthorizationState(flow.env.AUTH_STATE, params.state, flow.now);
  if (!state) throw invalidState(flow, providerId, "unknown_state");
  // Mix-up defence (RFC 9700 §4.4): the response must arrive at the redirect URI of the provider the flow began with.
  if (state.provider !== providerId) throw invalidState(flow, providerId, "wrong_provider", state.userId);
  if (!(await request.isBoundBrowser(state))) throw invalidState(flow, providerId, "browser_not_bound", state.userId);
  // KV is eventually consistent and cannot make the state single-use; the user's Durable Object can.
  const claim = `callback:${await authorizationKey(params.state)}`;
  if (!(await userVault(flow.env, state.userId).claimOnce(claim, state.expiresAt))) {
    throw invalidState(flow, providerId, "replayed_state", state.userId);
  }
  await deleteAuthorizationState(flow.env.AUTH_STATE, params.state);
  flow.audit.attribute(state.userId, "user");

  const outcome = await finish(flow, state, request);
  flow.audit.defer({
    action: "authorization.callback",
    outcome: outcome.kind === "connected" ? "success" : "failure",
    provider: providerId,
    connectionId: "connection" in outcome && outcome.connection ? outcome.connection.id : null,
    detail:
      outcome.kind === "connected" ? { scopes: outcome.connection.scopes.split(" ").filter(Boolean).length } : { reason: outcome.error },
  });
  return { flow: state, outcome };
}

async function finish(flow: FlowContext, state: AuthorizationState, request: CallbackRequest): Promise<CallbackOutcome> {
  const provider = flow.providers.get(state.provider);
  if (!provider?.configured) return { kind: "failed", error: "exchange_failed" };
  const { params } = request;

  // RFC 9207: when the server advertises `iss`, require it; when it arrives anyway (Google), it must match exactly.
  const expected = await provider.issuer().catch(() => null);
  // An OpenID provider whose discovery document cannot be fetched cannot be checked, nor its code exchanged.
  if (expected === null) return { kind: "failed", error: "exchange_failed" };
  const { issuer, requiresIssParameter } = expected;
  if (params.iss !== undefined ? params.iss !== issuer : requiresIssParameter) {
    return { kind: "failed", error: "issuer_mismatch" };
  }
  if (params.error !== undefined) {
    return { kind: "provider_error", error: PROVIDER_ERROR_CODE.test(params.error) ? params.error : "authorization_failed" };
  }
  if (!params.code) return { kind: "provider_error", error: "invalid_request" };

  const exchanged = await provider.exchangeCode(params.code, state.codeVerifier, redirectUri(flow.config, provider.id));
  if (!exchanged.ok) {
    const { kind, status, error } = exchanged.failure;
    console.warn(JSON.stringify({ message: "code exchange failed", provider: provider.id, kind, status, error }));
    return { kind: "failed", error: "exchange_failed" };
  }
  const tokens = exchanged.tokens;
  const identity = await provider.identify(tokens, state.nonce, new Date(flow.now));
  if (!identity.ok) {
    console.warn(
      JSON.stringify({ message: "account identification failed", provider: provider.id, reason: identity.reason, detail: identity.detail }),
    );
    return { kind: "failed", error: identity.reason };
  }

  const requested = provider.normalizeScopes(state.scopes);
  // Providers that omit `scope` (Notion) granted what was asked; the others say what was really granted.
  const granted = grantedScopes(provider, tokens.scope, tokens.refreshToken, requested);
  const saved = await saveAuthorizedConnection(flow.db, flow.cipher, {
    userId: state.userId,
    provider: provider.id,
    account: identity.account,
    tokens,
    scopes: granted,
    now: flow.now,
  });
  const missingScopes = requested.filter((scope) => !granted.includes(scope));
  const previousScopes = saved.previous ? saved.previous.scopes.split(" ") : [];
  const kind: ConsentKind =
    missingScopes.length > 0
      ? "reduction"
      : saved.previous && granted.some((scope) => !previousScopes.includes(scope))
        ? "expansion"
        : "grant";
  await recordConsent(flow.db, {
    userId: state.userId,
    connectionId: saved.row.id,
    provider: provider.id,
    kind,
    scopes: granted.join(" "),
    missingScopes: missingScopes.join(" "),
    integration: null,
    ip: request.ip,
    userAgent: request.userAgent,
    createdAt: flow.now,
  });
  if (state.integration !== null) {
    await completeIntegrationActivation(flow, {
      userId: state.userId,
      key: state.integration,
      connection: saved.row,
      ip: request.ip,
      userAgent: request.userAgent,
    });
  }
  if (missingScopes.length > 0) return { kind: "failed", error: "scope_not_granted", connection: saved.row, missingScopes };
  return { kind: "connected", connection: saved.row };
}
