import { ProblemError } from "../errors";
import { userVault } from "../refresh/user-vault";
import { authorizationKey, loadAuthorizationState, type AuthorizationState } from "../storage/authorization-state";
import { redirectUri, type FlowContext } from "./flow-context";

export interface StartedAuthorization {
  flow: AuthorizationState;
  providerUrl: URL;
}

/**
 * The browser's first stop: the flow must exist, belong to this provider and not have been started before
 * (only the first browser gets the binding cookie). Returns the provider's authorization URL.
 */
export async function startAuthorization(flow: FlowContext, { providerId, state }: { providerId: string; state: string | undefined }): Promise<StartedAuthorization> {
  const stored = state ? await loadAuthorizationState(flow.env.AUTH_STATE, state, flow.now) : null;
  const provider = stored?.provider === providerId ? flow.providers.get(providerId) : undefined;
  if (!state || !stored || !provider || !(await userVault(flow.env, stored.userId).claimOnce(`start:${await authorizationKey(state)}`, stored.expiresAt))) {
    flow.audit.defer({ action: "authorization.start", outcome: "failure", provider: providerId, userId: stored?.userId ?? null });
    throw new ProblemError("invalid-state", "This authorization link is unknown, expired or already used. Start the connection again from the application.");
  }
  const providerUrl = await provider.authorizationUrl({
    state,
    codeVerifier: stored.codeVerifier,
    nonce: stored.nonce,
    scopes: stored.scopes,
    redirectUri: redirectUri(flow.config, providerId),
    hasRefreshToken: stored.hasRefreshToken,
  });
  return { flow: stored, providerUrl };
}
