/**
 * A completed authorization held aside until its user verifies it (`CONNECT_VERIFY_URL`): everything the callback
 * would have stored, with the tokens encrypted for the flow rather than for a connection.
 */
import { encryptTokenPair, type TokenPairCiphertexts } from "../connections/token-pair";
import type { TokenCipher } from "../crypto/token-cipher";
import type { TokenSet } from "../providers/provider";
import type { Services } from "../services";
import type { AuthorizationCompletion } from "./authorization-completion";
import { revokeGrant } from "./upstream-revocation";

export type FlowTokens = Pick<TokenSet, "accessToken" | "refreshToken" | "expiresIn">;

export interface HeldFlow {
  /** base64url SHA-256 of the flow_id (never the flow_id itself): the holding object's name. */
  flowKey: string;
  /** The authorization as the callback hands it to the user's vault, its tokens as ciphertext. */
  authorization: Omit<AuthorizationCompletion, "tokens"> & { tokens: TokenPairCiphertexts & { expiresIn: number | null } };
  /** The flow's `return_to`, handed to the application with the verified connection. */
  returnTo: string | null;
  /** When an unverified flow is discarded and its tokens revoked. */
  expiresAt: number;
}

/**
 * The owner bound into the ciphertexts' additional data. The connection slot holds `flow:{flowKey}`, which no
 * connection id (`conn_…`) can equal: a held flow's ciphertext does not decrypt as any row's, nor as another flow's.
 */
function flowOwner(flowKey: string, userId: string): { userId: string; connectionId: string } {
  return { userId, connectionId: `flow:${flowKey}` };
}

/** Encrypts the flow's new tokens with the current key, bound to the flow and its user. */
export async function sealFlowTokens(
  cipher: TokenCipher,
  flowKey: string,
  userId: string,
  tokens: FlowTokens,
): Promise<HeldFlow["authorization"]["tokens"]> {
  const sealed = await encryptTokenPair(cipher, flowOwner(flowKey, userId), tokens);
  return { ...sealed, expiresIn: tokens.expiresIn };
}

/** The held flow's tokens in plain text, or `null` when no key in the ring decrypts them (a key removed too early). */
export async function openFlowTokens(cipher: TokenCipher, flow: HeldFlow): Promise<FlowTokens | null> {
  const { tokens, userId } = flow.authorization;
  const owner = flowOwner(flow.flowKey, userId);
  const access = await cipher.decrypt(tokens.accessTokenCiphertext, { ...owner, field: "access_token" });
  const refresh =
    tokens.refreshTokenCiphertext === null
      ? null
      : await cipher.decrypt(tokens.refreshTokenCiphertext, { ...owner, field: "refresh_token" });
  if (!access.ok || (refresh !== null && !refresh.ok)) return null;
  return { accessToken: access.plaintext, refreshToken: refresh?.plaintext ?? null, expiresIn: tokens.expiresIn };
}

/**
 * Revokes a discarded or expired flow's grant upstream (the refresh token when there is one: RFC 7009 §2.1), unless
 * another connection holds the grant (./upstream-revocation.ts). Never throws.
 */
export async function revokeHeldFlow(services: Services, flow: HeldFlow): Promise<void> {
  const { userId, provider, grantKey, tokens } = flow.authorization;
  const field = tokens.refreshTokenCiphertext !== null ? "refresh_token" : "access_token";
  const opened = await openFlowTokens(services.cipher, flow);
  await revokeGrant(services, {
    userId,
    provider,
    connectionId: null,
    field,
    token: opened === null ? null : field === "refresh_token" ? opened.refreshToken : opened.accessToken,
    grantKey,
  });
}
