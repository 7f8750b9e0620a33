import type { TokenCipher } from "../crypto/token-cipher";

export interface TokenPairCiphertexts {
  accessTokenCiphertext: string;
  refreshTokenCiphertext: string | null;
  keyId: string;
}

/** Encrypts a connection's tokens with the current key, so both values of a row always carry the row's `keyId`. */
export async function encryptTokenPair(
  cipher: TokenCipher,
  owner: { userId: string; connectionId: string },
  tokens: { accessToken: string; refreshToken: string | null },
): Promise<TokenPairCiphertexts> {
  return {
    accessTokenCiphertext: await cipher.encrypt(tokens.accessToken, { ...owner, field: "access_token" }),
    refreshTokenCiphertext:
      tokens.refreshToken === null ? null : await cipher.encrypt(tokens.refreshToken, { ...owner, field: "refresh_token" }),
    keyId: cipher.currentKeyId,
  };
}

/**
 * The refresh token a connection holds, in plain text; `null` when it holds none or when no key in the ring decrypts
 * it (a key removed too early, a damaged value): either way there is no refresh token to use, and a new authorization
 * must bring one (Google sends one only with forced consent).
 */
export async function usableRefreshToken(
  cipher: TokenCipher,
  row: { userId: string; id: string; refreshTokenCiphertext: string | null },
): Promise<string | null> {
  if (row.refreshTokenCiphertext === null) return null;
  const decrypted = await cipher.decrypt(row.refreshTokenCiphertext, { userId: row.userId, connectionId: row.id, field: "refresh_token" });
  if (decrypted.ok) return decrypted.plaintext;
  console.warn(JSON.stringify({ message: "stored refresh token does not decrypt", connectionId: row.id, reason: decrypted.reason }));
  return null;
}
