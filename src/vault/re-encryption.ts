/** Key rotation for one connection, as the user's Durable Object runs it (never concurrently with a refresh of it). */
import { encryptTokenPair } from "../connections/token-pair";
import type { DecryptFailureReason } from "../crypto/token-cipher";
import { deferReEncryption, type ConnectionRow } from "../storage/connections";
import { reconcilePendingWrite } from "./pending-writes";
import { cooldownMs } from "./refresh-policy";
import type { VaultServices } from "./vault-services";

export type ReEncryptResult = "re_encrypted" | "current" | "not_found" | "conflict" | "undecryptable";

/**
 * Rewrites a connection's ciphertexts under the current key. A write-ahead copy is applied first: it may hold the only
 * live (rotated) refresh token, and re-encrypting the row before it would bump the version and make the copy look
 * superseded. A compare-and-swap keeps a concurrent reconnect's tokens. A row that no key decrypts is skipped by the
 * pass for a while (exponential, as refresh cooldowns), so each run's budget goes to rows it can move.
 */
export async function reEncryptConnection(vault: VaultServices, key: { userId: string; connectionId: string }): Promise<ReEncryptResult> {
  const row = await reconcilePendingWrite(vault, key.userId, key.connectionId);
  if (!row) return "not_found";
  if (row.keyId === vault.cipher.currentKeyId) return "current";
  const owner = { userId: key.userId, connectionId: key.connectionId };
  const access = await vault.cipher.decrypt(row.accessTokenCiphertext, { ...owner, field: "access_token" });
  const refresh =
    row.refreshTokenCiphertext === null
      ? null
      : await vault.cipher.decrypt(row.refreshTokenCiphertext, { ...owner, field: "refresh_token" });
  if (!access.ok) return deferAfterFailure(vault, row, access.reason);
  if (refresh !== null && !refresh.ok) return deferAfterFailure(vault, row, refresh.reason);
  const encrypted = await encryptTokenPair(vault.cipher, owner, {
    accessToken: access.plaintext,
    refreshToken: refresh === null ? null : refresh.plaintext,
  });
  const written = await vault.writeConnection(
    vault.db,
    { userId: key.userId, id: row.id, expectedVersion: row.version },
    { ...encrypted, reEncryptFailures: 0, reEncryptBlockedUntil: null },
  );
  return written ? "re_encrypted" : "conflict";
}

async function deferAfterFailure(vault: VaultServices, row: ConnectionRow, reason: DecryptFailureReason): Promise<"undecryptable"> {
  const failures = row.reEncryptFailures + 1;
  console.error(
    JSON.stringify({ message: "re-encryption impossible: stored token does not decrypt", connectionId: row.id, keyId: row.keyId, reason }),
  );
  await deferReEncryption(
    vault.db,
    { userId: row.userId, id: row.id },
    { failures, blockedUntil: vault.clock() + cooldownMs(failures, null) },
  );
  return "undecryptable";
}
