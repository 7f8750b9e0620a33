/** Step 1 of the connect flow: `POST /v1/connect/{provider}` stores the pending authorization and answers the start URL. */
import { randomToken } from "../crypto/random";
import { ProblemError } from "../errors";
import type { Provider } from "../providers/provider";
import { generateCodeVerifier, generateState } from "../providers/secrets";
import type { Services } from "../services";
import { PENDING_AUTHORIZATION_TTL_SECONDS, pendingAuthorizationKey, savePendingAuthorization } from "../storage/pending-authorizations";
import { userVault } from "../vault/user-vault";
import { allowedReturnTo } from "./return-to";

export interface BeginConnectRequest {
  userId: string;
  providerId: string;
  scopes?: string[] | undefined;
  /** Where the callback sends the browser: an absolute URL on one of the RETURN_TO_ORIGINS. */
  returnTo?: string | undefined;
  /**
   * Instead of `returnTo`: a path of this service's own pages (the connect page), starting with one `/`. It is on
   * the service's own origin by construction, so no allow-list needs to name that origin.
   */
  returnToServicePath?: string | undefined;
  /** The connection an incremental authorization extends. */
  connectionId?: string | null;
  hasRefreshToken?: boolean;
  integration?: string | null;
  now: number;
}

export interface BegunConnect {
  /** The service's own start URL (`GET /v1/oauth/{provider}/start?state=…`). */
  authorizationUrl: string;
  expiresAt: number;
}

/** A configured provider by id, or the problem that explains why there is none. */
export function configuredProvider(services: Services, providerId: string): Provider {
  const provider = services.providers.get(providerId);
  if (!provider) throw new ProblemError("not-found", `There is no provider "${providerId}".`);
  if (!provider.configured) {
    throw new ProblemError("provider-not-configured", `The provider "${providerId}" has no client credentials on this service.`);
  }
  return provider;
}

/** The scopes to ask for: the provider's defaults (they identify the account) plus the requested ones, all allowed. */
export function scopesToRequest(provider: Provider, requested: readonly string[] | undefined): string[] {
  const notAllowed = (requested ?? []).filter((scope) => !provider.allowedScopes.includes(scope));
  if (notAllowed.length > 0) {
    throw new ProblemError("scope-not-allowed", `These scopes are not allowed for ${provider.id}: ${notAllowed.join(" ")}`, {
      extensions: { invalid_scopes: notAllowed, allowed_scopes: [...provider.allowedScopes] },
    });
  }
  return [...new Set([...provider.defaultScopes, ...(requested ?? [])])];
}

/**
 * Stores the authorization transaction (state, PKCE verifier, nonce, browser-binding secret) in KV, indexed in the
 * user's vault (which an erasure ends it through), and returns the service's own start URL, which binds the browser
 * before sending it to the provider.
 */
export async function beginConnect(services: Services, request: BeginConnectRequest): Promise<BegunConnect> {
  const provider = configuredProvider(services, request.providerId);
  const scopes = scopesToRequest(provider, request.scopes);
  let returnTo: string | null = null;
  if (request.returnToServicePath !== undefined) {
    returnTo = `${services.config.publicBaseUrl}${request.returnToServicePath}`;
  } else if (request.returnTo !== undefined) {
    returnTo = allowedReturnTo(request.returnTo, services.config.returnToOrigins);
    if (returnTo === null) {
      throw new ProblemError("return-to-not-allowed", "return_to must be an absolute URL on one of the RETURN_TO_ORIGINS.");
    }
  }
  const state = generateState();
  const expiresAt = request.now + PENDING_AUTHORIZATION_TTL_SECONDS * 1000;
  // Indexed before it is stored: an erasure between the two then ends it all the same (it began before the erasure).
  const begunAt = await userVault(services.env, request.userId).registerPendingAuthorization(
    await pendingAuthorizationKey(state),
    expiresAt,
  );
  await savePendingAuthorization(services.env.AUTH_STATE, state, {
    userId: request.userId,
    provider: provider.id,
    scopes,
    codeVerifier: provider.usesPkce ? generateCodeVerifier() : null,
    nonce: randomToken(),
    returnTo,
    bindingId: randomToken(9),
    bindingSecret: randomToken(),
    connectionId: request.connectionId ?? null,
    integration: request.integration ?? null,
    hasRefreshToken: request.hasRefreshToken ?? false,
    createdAt: begunAt,
    expiresAt,
  });
  services.audit.record({ action: "authorization.started", outcome: "success", provider: provider.id, detail: { scopes: scopes.length } });
  const startUrl = new URL(`${services.config.publicBaseUrl}/v1/oauth/${provider.id}/start`);
  startUrl.searchParams.set("state", state);
  return { authorizationUrl: startUrl.toString(), expiresAt };
}
