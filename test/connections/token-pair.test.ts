import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getConfig } from "../../src/config";
import { encryptTokenPair } from "../../src/connections/token-pair";
import { getTokenCipher } from "../../src/crypto/token-cipher";

const cipher = getTokenCipher(getConfig(env).encryptionKeys);
const owner = { userId: "pair-user", connectionId: "pair-connection" };

describe("encryptTokenPair", () => {
  it("re-encrypts a kept refresh token when the provider sent none", async () => {
    const kept = await cipher.encrypt("kept-refresh", { ...owner, field: "refresh_token" });
    const pair = await encryptTokenPair(cipher, owner, { accessToken: "new-access", refreshToken: null, keptRefreshTokenCiphertext: kept });
    expect(pair.keyId).toBe(cipher.currentKeyId);
    expect(pair.refreshTokenCiphertext).not.toBeNull();
    const refresh = await cipher.decrypt(pair.refreshTokenCiphertext!, { ...owner, field: "refresh_token" });
    expect(refresh).toMatchObject({ ok: true, plaintext: "kept-refresh" });
  });

  it("refuses to carry over a kept refresh token that does not decrypt for this connection", async () => {
    const foreign = await cipher.encrypt("kept-refresh", { ...owner, connectionId: "another-connection", field: "refresh_token" });
    await expect(
      encryptTokenPair(cipher, owner, { accessToken: "new-access", refreshToken: null, keptRefreshTokenCiphertext: foreign }),
    ).rejects.toThrow(/stored refresh token cannot be decrypted/);
  });

  it("stores no refresh token when there is neither a new nor a kept one", async () => {
    const pair = await encryptTokenPair(cipher, owner, { accessToken: "new-access", refreshToken: null, keptRefreshTokenCiphertext: null });
    expect(pair.refreshTokenCiphertext).toBeNull();
  });
});
