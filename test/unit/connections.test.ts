import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getConfig } from "../../src/config";
import { presentConnection } from "../../src/connections/present";
import { encryptTokenPair } from "../../src/connections/token-pair";
import { getTokenCipher } from "../../src/crypto/token-cipher";
import type { ConnectionRow } from "../../src/storage/schema";

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

describe("presentConnection", () => {
  const row = {
    id: "c1",
    provider: "notion",
    status: "active",
    accountId: "acct",
    accountEmail: null,
    accountName: null,
    scopes: "a  b",
    accessTokenExpiresAt: null,
    createdAt: 0,
    updatedAt: 1000,
    lastRefreshedAt: null,
  } as unknown as ConnectionRow;

  it("leaves out an account's missing email and name", () => {
    expect(presentConnection(row).account).toEqual({ id: "acct" });
  });

  it("shows an account's email and name when known", () => {
    expect(presentConnection({ ...row, accountEmail: "a@example.com", accountName: "A" }).account).toEqual({
      id: "acct",
      email: "a@example.com",
      name: "A",
    });
  });
});
