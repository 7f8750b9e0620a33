import { ProblemError } from "../errors";
import { userVault } from "../refresh/user-vault";
import { authorizationKey, loadAuthorizationState, type AuthorizationState } from "../storage/authorization-state";
import { redirectUri, type FlowContext } from "./flow-context";

export interface StartedAuthorization {
  flow: AuthorizationState;
  providerUrl: URL;
}

/** Seconds a browser is told to wait when the provider's discovery document cannot be fetched. */
const PROVIDER_RETRY_AFTER_SECONDS = 30;

/**
 * The browser's first stop: the flow must exist, belong to this provider and not have been started before
 * (only the first browser gets the binding cookie). Returns the provider's authorization URL.
 */
export async function startAuthorization(
  flow: FlowContext,
  { providerId, state }: { providerId: string; state: string | undefined },
): Promise<StartedAuthorization> {
  const stored = state ? await loadAuthorizationState(flow.env.AUTH_STATE, state, flow.now) : null;
  const provider = stored?.provider === providerId ? flow.providers.get(providerId) : undefined;
  const refuse = () => {
    flow.audit.defer({ action: "authorization.start", outcome: "failure", provider: providerId, userId: stored?.userId ?? null });
    return new ProblemError(
      "invalid-state",
      "This authorization link is unknown, expired or already used. Start the connection again from the application.",
    );
  };
  if (!state || !stored || !provider) throw refuse();
  let providerUrl: URL;
  try {
    providerUrl = await provider.authorizationUrl({
      state,
      codeVerifier: stored.codeVerifier,
      nonce: stored.nonce,
      scopes: stored.scopes,
      redirectUri: redirectUri(flow.config, providerId),
      hasRefreshToken: stored.hasRefreshToken,
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
  if (!(await userVault(flow.env, stored.userId).claimOnce(`start:${await authorizationKey(state)}`, stored.expiresAt))) throw refuse();
  return { flow: stored, providerUrl };
}
