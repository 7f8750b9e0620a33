import { encryptTokenPair } from "../connections/token-pair";
import { findConnection } from "../storage/connections";
import type { VaultServices } from "./vault-services";

export type ReEncryptResult = "re_encrypted" | "current" | "not_found" | "conflict" | "undecryptable";

/** Rewrites a connection's ciphertexts under the current key; a compare-and-swap keeps a concurrent reconnect's tokens. */
export async function reEncryptConnection(vault: VaultServices, key: { userId: string; connectionId: string }): Promise<ReEncryptResult> {
  const row = await findConnection(vault.db, { userId: key.userId, id: key.connectionId });
  if (!row) return "not_found";
  if (row.keyId === vault.cipher.currentKeyId) return "current";
  const owner = { userId: key.userId, connectionId: key.connectionId };
  const access = await vault.cipher.decrypt(row.accessTokenCiphertext, { ...owner, field: "access_token" });
  if (!access.ok) {
    console.error(
      JSON.stringify({ message: "re-encryption impossible: stored token does not decrypt", connectionId: row.id, reason: access.reason }),
    );
    return "undecryptable";
  }
  const encrypted = await encryptTokenPair(vault.cipher, owner, {
    accessToken: access.plaintext,
    refreshToken: null,
    keptRefreshTokenCiphertext: row.refreshTokenCiphertext,
  });
  const written = await vault.writeConnection(vault.db, { userId: key.userId, id: row.id, expectedVersion: row.version }, encrypted);
  return written ? "re_encrypted" : "conflict";
}
