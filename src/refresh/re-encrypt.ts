import { encryptTokenPair } from "../connections/token-pair";
import { findConnection } from "../storage/connections";
import type { RefreshDependencies } from "./refresh-connection";

export type ReEncryptResult = "re_encrypted" | "current" | "not_found" | "conflict" | "undecryptable";

/** Rewrites a connection's ciphertexts under the current key; a compare-and-swap keeps a concurrent reconnect's tokens. */
export async function reEncryptConnection(
  deps: RefreshDependencies,
  key: { userId: string; connectionId: string },
): Promise<ReEncryptResult> {
  const row = await findConnection(deps.db, { userId: key.userId, id: key.connectionId });
  if (!row) return "not_found";
  if (row.keyId === deps.cipher.currentKeyId) return "current";
  const owner = { userId: key.userId, connectionId: key.connectionId };
  const access = await deps.cipher.decrypt(row.accessTokenCiphertext, { ...owner, field: "access_token" });
  if (!access.ok) {
    console.error(
      JSON.stringify({ message: "re-encryption impossible: stored token does not decrypt", connectionId: row.id, reason: access.reason }),
    );
    return "undecryptable";
  }
  const encrypted = await encryptTokenPair(deps.cipher, owner, {
    accessToken: access.plaintext,
    refreshToken: null,
    keptRefreshTokenCiphertext: row.refreshTokenCiphertext,
  });
  const written = await deps.writeConnection(deps.db, { userId: key.userId, id: row.id, expectedVersion: row.version }, encrypted);
  return written ? "re_encrypted" : "conflict";
}
