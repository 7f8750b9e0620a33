/** Step 2 of the connect flow: the browser opens the start URL, is bound to the authorization and sent to the provider. */
import { ProblemError } from "../errors";
import type { Services } from "../services";
import { loadPendingAuthorization, pendingAuthorizationKey, type PendingAuthorization } from "../storage/pending-authorizations";
import { userVault } from "../vault/user-vault";
import { redirectUri } from "./redirect-uri";

export interface ProviderRedirect {
  pending: PendingAuthorization;
  providerUrl: URL;
}

/** Seconds a browser is told to wait when the provider's discovery document cannot be fetched. */
const PROVIDER_RETRY_AFTER_SECONDS = 30;

/**
 * The pending authorization must exist, belong to this provider and not have been redirected before (only the first
 * browser gets the binding cookie). Returns the provider's authorization URL.
 */
export async function redirectToProvider(
  services: Services,
  { providerId, state, now }: { providerId: string; state: string | undefined; now: number },
): Promise<ProviderRedirect> {
  const pending = state ? await loadPendingAuthorization(services.env.AUTH_STATE, state, now) : null;
  const provider = pending?.provider === providerId ? services.providers.get(providerId) : undefined;
  const refuse = () => {
    services.audit.record({
      action: "authorization.start_url_refused",
      outcome: "failure",
      provider: providerId,
      userId: pending?.userId ?? null,
    });
    return new ProblemError(
      "invalid-state",
      "This authorization link is unknown, expired or already used. Start the connection again from the application.",
    );
  };
  if (!state || !pending || !provider) throw refuse();
  let providerUrl: URL;
  try {
    providerUrl = await provider.authorizationUrl({
      state,
      codeVerifier: pending.codeVerifier,
      nonce: pending.nonce,
      scopes: pending.scopes,
      redirectUri: redirectUri(services.config, providerId),
      hasRefreshToken: pending.hasRefreshToken,
    });
  } catch (error) {
    // An OpenID provider's discovery document could not be fetched. The link stays unused, so the browser may retry it.
    console.warn(
      JSON.stringify({
        message: "authorization URL unavailable",
        provider: providerId,
        error: error instanceof Error ? error.name : "unknown",
      }),
    );
    throw new ProblemError("service-unavailable", "The provider cannot be reached just now; open the link again shortly.", {
      headers: { "Retry-After": String(PROVIDER_RETRY_AFTER_SECONDS) },
    });
  }
  if (!(await userVault(services.env, pending.userId).claimOnce(`start:${await pendingAuthorizationKey(state)}`, pending.expiresAt))) {
    throw refuse();
  }
  return { pending, providerUrl };
}
