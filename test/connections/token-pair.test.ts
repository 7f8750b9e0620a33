import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { getConfig } from "../../src/config";
import { encryptTokenPair, usableRefreshToken } from "../../src/connections/token-pair";
import { getTokenCipher } from "../../src/crypto/token-cipher";

const cipher = getTokenCipher(getConfig(env).encryptionKeys);
const owner = { userId: "pair-user", connectionId: "pair-connection" };

describe("encryptTokenPair", () => {
  it("encrypts both tokens for the connection under the current key", async () => {
    const pair = await encryptTokenPair(cipher, owner, { accessToken: "new-access", refreshToken: "new-refresh" });
    expect(pair.keyId).toBe(cipher.currentKeyId);
    expect(await cipher.decrypt(pair.accessTokenCiphertext, { ...owner, field: "access_token" })).toMatchObject({
      plaintext: "new-access",
    });
    expect(await cipher.decrypt(pair.refreshTokenCiphertext!, { ...owner, field: "refresh_token" })).toMatchObject({
      ok: true,
      plaintext: "new-refresh",
      keyId: cipher.currentKeyId,
    });
  });

  it("stores no refresh token when there is none", async () => {
    const pair = await encryptTokenPair(cipher, owner, { accessToken: "new-access", refreshToken: null });
    expect(pair.refreshTokenCiphertext).toBeNull();
  });
});

describe("usableRefreshToken", () => {
  const row = (refreshTokenCiphertext: string | null) => ({ userId: owner.userId, id: owner.connectionId, refreshTokenCiphertext });

  it("reads the refresh token a connection holds", async () => {
    const held = await cipher.encrypt("held-refresh", { ...owner, field: "refresh_token" });
    expect(await usableRefreshToken(cipher, row(held))).toBe("held-refresh");
  });

  it("counts a refresh token that does not decrypt for this connection as none, and says so without the value", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const foreign = await cipher.encrypt("foreign-refresh", { ...owner, connectionId: "another-connection", field: "refresh_token" });
    expect(await usableRefreshToken(cipher, row(foreign))).toBeNull();
    expect(warn.mock.calls.join("\n")).toContain("authentication_failed");
    expect(warn.mock.calls.join("\n")).not.toContain(foreign);
    warn.mockRestore();
  });

  it("is null when the connection holds no refresh token", async () => {
    expect(await usableRefreshToken(cipher, row(null))).toBeNull();
  });
});
