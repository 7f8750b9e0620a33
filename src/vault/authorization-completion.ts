/**
 * The last step of a connect flow, run by the user's vault under its user-level lock so that it never interleaves
 * with an erasure of the user: the connection is stored, unless the user was erased after the authorization began.
 */
import { recordAuthorizedConnection, type CompletedAuthorization } from "../connections/save-authorized-connection";
import type { ConnectionRow } from "../storage/connections";
import { isEndedByErasure } from "./pending-authorization-index";
import { revokeGrant } from "./upstream-revocation";
import type { VaultServices } from "./vault-services";

export interface AuthorizationCompletion extends CompletedAuthorization {
  /** When the vault registered the authorization (`PendingAuthorization.createdAt`). */
  begunAt: number;
}

export type CompletionResult = { kind: "stored"; connection: ConnectionRow } | { kind: "ended_by_erasure" };

/**
 * Stores the connection with its consent and integration, or, when an erasure (recorded at `erasedAt`) came after
 * the authorization began, stores nothing and revokes the tokens the code exchange produced (unless another
 * connection holds their grant): they must not outlive the erasure.
 */
export async function completeAuthorization(
  vault: VaultServices,
  { begunAt, ...authorization }: AuthorizationCompletion,
  erasedAt: number | null,
): Promise<CompletionResult> {
  if (!isEndedByErasure(begunAt, erasedAt)) return { kind: "stored", connection: await recordAuthorizedConnection(vault, authorization) };
  const { refreshToken, accessToken } = authorization.tokens;
  await revokeGrant(vault, {
    userId: authorization.userId,
    provider: authorization.provider,
    connectionId: null,
    field: refreshToken !== null ? "refresh_token" : "access_token",
    token: refreshToken ?? accessToken,
    grantKey: authorization.grantKey,
  });
  return { kind: "ended_by_erasure" };
}
