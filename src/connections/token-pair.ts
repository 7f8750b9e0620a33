import type { TokenCipher } from "../crypto/token-cipher";

export interface TokenPairCiphertexts {
  accessTokenCiphertext: string;
  refreshTokenCiphertext: string | null;
  keyId: string;
}

/**
 * Encrypts a connection's tokens with the current key. A kept refresh token (the provider sent none) is
 * re-encrypted too, so both values of a row always carry the row's `keyId`.
 */
export async function encryptTokenPair(
  cipher: TokenCipher,
  owner: { userId: string; connectionId: string },
  tokens: { accessToken: string; refreshToken: string | null; keptRefreshTokenCiphertext: string | null },
): Promise<TokenPairCiphertexts> {
  let refreshToken = tokens.refreshToken;
  if (refreshToken === null && tokens.keptRefreshTokenCiphertext !== null) {
    const kept = await cipher.decrypt(tokens.keptRefreshTokenCiphertext, { ...owner, field: "refresh_token" });
    if (!kept.ok) throw new Error(`stored refresh token cannot be decrypted (${kept.reason})`);
    refreshToken = kept.plaintext;
  }
  return {
    accessTokenCiphertext: await cipher.encrypt(tokens.accessToken, { ...owner, field: "access_token" }),
    refreshTokenCiphertext: refreshToken === null ? null : await cipher.encrypt(refreshToken, { ...owner, field: "refresh_token" }),
    keyId: cipher.currentKeyId,
  };
}
