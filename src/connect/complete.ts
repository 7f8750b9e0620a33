/** Step 3 of the connect flow: the provider's redirect back to the callback. */
import { holdForVerification } from "../connect-verifications/hold";
import { ProblemError } from "../errors";
import type { ConsentClient } from "../storage/consents";
import { grantedScopes, missingScopes as scopesMissing, parseScopes } from "../scopes";
import type { Services } from "../services";
import {
  deletePendingAuthorization,
  loadPendingAuthorization,
  pendingAuthorizationKey,
  type PendingAuthorization,
} from "../storage/pending-authorizations";
import type { ConnectionRow } from "../storage/schema";
import type { AuthorizationCompletion } from "../vault/authorization-completion";
import { userVault } from "../vault/user-vault";
import { redirectUri } from "./redirect-uri";

export interface CallbackParams {
  state?: string | undefined;
  code?: string | undefined;
  error?: string | undefined;
  iss?: string | undefined;
}

/** Our own failure codes on a valid state (docs/http-api.md, "Callback outcomes"); the provider's own codes pass through. */
export type CallbackFailure = "exchange_failed" | "invalid_id_token" | "scope_not_granted" | "identity_failed" | "issuer_mismatch";

export type CallbackOutcome =
  | { kind: "connected"; connection: ConnectionRow }
  /**
   * `CONNECT_VERIFY_URL` is set: the authorization is held, nothing is created, and the browser goes to `verifyUrl`
   * (which carries the flow_id: it goes into that redirect and nowhere else).
   */
  | { kind: "verification_required"; verifyUrl: string }
  | { kind: "provider_error"; error: string }
  | { kind: "failed"; error: CallbackFailure; connection?: ConnectionRow; missingScopes?: string[] };

/** An outcome that ends at the callback, as "Callback outcomes" describes it. */
export type SettledCallbackOutcome = Exclude<CallbackOutcome, { kind: "verification_required" }>;

export interface CompletedConnect {
  pending: PendingAuthorization;
  outcome: CallbackOutcome;
}

export interface CallbackRequest {
  providerId: string;
  params: CallbackParams;
  /** Whether the browser presents this authorization's binding cookie. */
  isBoundBrowser: (pending: PendingAuthorization) => Promise<boolean>;
  client: ConsentClient;
  now: number;
}

/** Provider error codes are echoed into the return URL, so only plain OAuth-style codes pass. */
const PROVIDER_ERROR_CODE = /^[a-z0-9_]{1,64}$/;

function invalidState(services: Services, providerId: string, reason: string, userId: string | null = null): ProblemError {
  services.audit.record({ action: "authorization.callback", outcome: "failure", provider: providerId, userId, detail: { reason } });
  return new ProblemError("invalid-state", "Start the connection again from the application.", {
    extensions: { reason },
  });
}

/**
 * Consumes the state exactly once and finishes the authorization: checks the issuer, exchanges the code with
 * the PKCE verifier, verifies the id_token, identifies the account and stores the connection.
 * Throws `invalid-state` when no trusted pending authorization exists (nothing is created and no redirect may happen),
 * and when the user was erased after the authorization began (reason `user_erased`): before the code exchange, or
 * after it, in which case the user's vault has revoked the new tokens.
 */
export async function completeConnect(services: Services, request: CallbackRequest): Promise<CompletedConnect> {
  const { providerId, params } = request;
  if (!params.state) throw invalidState(services, providerId, "missing_state");
  const pending = await loadPendingAuthorization(services.env.AUTH_STATE, params.state, request.now);
  if (!pending) throw invalidState(services, providerId, "unknown_state");
  // Mix-up defence (RFC 9700 §4.4): the response must arrive at the redirect URI of the provider the authorization began with.
  if (pending.provider !== providerId) throw invalidState(services, providerId, "wrong_provider", pending.userId);
  if (!(await request.isBoundBrowser(pending))) throw invalidState(services, providerId, "browser_not_bound", pending.userId);
  // KV is eventually consistent and cannot make the state single-use, nor tell whether an erasure ended it (another
  // location may still read a record the erasure deleted); the user's Durable Object can.
  const claim = `callback:${await pendingAuthorizationKey(params.state)}`;
  switch (await userVault(services.env, pending.userId).claimCompletion(claim, pending.expiresAt, pending.createdAt)) {
    case "ended_by_erasure":
      throw invalidState(services, providerId, "user_erased", pending.userId);
    case "replayed":
      throw invalidState(services, providerId, "replayed_state", pending.userId);
    case "claimed":
      break;
  }
  await deletePendingAuthorization(services.env.AUTH_STATE, params.state);
  services.audit.attribute(pending.userId, "user");

  const outcome = await finish(services, pending, request);
  services.audit.record({
    action: "authorization.callback",
    outcome: outcome.kind === "connected" || outcome.kind === "verification_required" ? "success" : "failure",
    provider: providerId,
    connectionId: "connection" in outcome && outcome.connection ? outcome.connection.id : null,
    detail: callbackDetail(outcome),
  });
  return { pending, outcome };
}

/** Codes and counts only: a held flow's audit row says it waits, never which flow_id it waits under. */
function callbackDetail(outcome: CallbackOutcome): Record<string, string | number> {
  switch (outcome.kind) {
    case "connected":
      return { scopes: parseScopes(outcome.connection.scopes).length };
    case "verification_required":
      return { verification: "pending" };
    case "provider_error":
    case "failed":
      return { reason: outcome.error };
  }
}

async function finish(services: Services, pending: PendingAuthorization, request: CallbackRequest): Promise<CallbackOutcome> {
  const provider = services.providers.get(pending.provider);
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

  const exchanged = await provider.exchangeCode(params.code, pending.codeVerifier, redirectUri(services.config, provider.id));
  if (!exchanged.ok) {
    const { kind, status, error } = exchanged.failure;
    console.warn(JSON.stringify({ message: "code exchange failed", provider: provider.id, kind, status, error }));
    return { kind: "failed", error: "exchange_failed" };
  }
  const tokens = exchanged.tokens;
  const identity = await provider.identify(tokens, pending.nonce, new Date(request.now));
  if (!identity.ok) {
    console.warn(
      JSON.stringify({ message: "account identification failed", provider: provider.id, reason: identity.reason, detail: identity.detail }),
    );
    return { kind: "failed", error: identity.reason };
  }

  const requested = provider.normalizeScopes(pending.scopes);
  // Providers that omit `scope` (Notion) granted what was asked; the others say what was really granted.
  const granted = grantedScopes(provider, tokens.scope, tokens.refreshToken, requested);
  const missingScopes = scopesMissing(requested, granted);
  const authorization: AuthorizationCompletion = {
    userId: pending.userId,
    provider: provider.id,
    account: identity.account,
    grantKey: identity.grantKey ?? null,
    tokens: { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, expiresIn: tokens.expiresIn },
    scopes: granted,
    missingScopes,
    integration: pending.integration,
    begunAt: pending.createdAt,
    client: request.client,
    now: request.now,
  };
  // With verification, a partial grant waits too: storing it here would let a forwarded link connect a reduced grant.
  const verifyUrl = services.config.connectVerifyUrl;
  if (verifyUrl !== null) {
    return {
      kind: "verification_required",
      verifyUrl: await holdForVerification(services, authorization, { verifyUrl, returnTo: pending.returnTo }),
    };
  }
  // Stored by the user's vault, in turn with an erasure of the user: a connection must not outlive one.
  const completed = await userVault(services.env, pending.userId).completeAuthorization(authorization, services.audit.trace());
  if (completed.kind === "ended_by_erasure") throw invalidState(services, provider.id, "user_erased", pending.userId);
  if (missingScopes.length > 0) return { kind: "failed", error: "scope_not_granted", connection: completed.connection, missingScopes };
  return { kind: "connected", connection: completed.connection };
}
