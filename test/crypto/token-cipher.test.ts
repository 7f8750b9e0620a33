import { afterEach, describe, expect, it, vi } from "vitest";
import type { EncryptionKey } from "../../src/config";
import { base64url } from "../../src/crypto/encoding";
import { type CiphertextContext, getTokenCipher, needsReEncryption } from "../../src/crypto/token-cipher";

/** A distinct 32-byte key per seed; a fresh array each call, so every ring gets its own cipher and cache. */
function key(kid: string, seed: number): EncryptionKey {
  return { kid, key: Uint8Array.from({ length: 32 }, (_, index) => (seed * 31 + index) % 256) };
}

const ROW: CiphertextContext = { connectionId: "conn_A", userId: "user_1", field: "access_token" };
const PLAINTEXT = "ya29.a0AfH6SMBx-access-token";

/** Rewrites part `index` of a `v1.{kid}.{iv}.{ciphertext}` value. */
function withPart(ciphertext: string, index: number, replace: (part: string) => string): string {
  const parts = ciphertext.split(".");
  parts[index] = replace(parts[index] ?? "");
  return parts.join(".");
}

/** Flips the lowest bit of the first byte of a base64url part, keeping it well-formed. */
function flipFirstBit(part: string): string {
  const bytes = base64url.decode(part);
  if (!bytes) throw new Error("test setup: part is not base64url");
  bytes[0] = (bytes[0] ?? 0) ^ 1;
  return base64url.encode(bytes);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("round trip", () => {
  it("a value decrypts to its plaintext for the row and field it was written for", async () => {
    const cipher = getTokenCipher([key("k1", 1)]);
    const ciphertext = await cipher.encrypt(PLAINTEXT, ROW);
    expect(await cipher.decrypt(ciphertext, ROW)).toStrictEqual({ ok: true, plaintext: PLAINTEXT, keyId: "k1" });
  });

  it.each([
    ["empty", ""],
    ["non-ASCII", "tøkén ✓ 🔑"],
    ["long", "x".repeat(16_384)],
  ])("a %s plaintext round trips", async (_label, plaintext) => {
    const cipher = getTokenCipher([key("k1", 1)]);
    const result = await cipher.decrypt(await cipher.encrypt(plaintext, ROW), ROW);
    expect(result).toStrictEqual({ ok: true, plaintext, keyId: "k1" });
  });

  it("a stored value is v1.{kid}.{iv}.{ciphertext} with a 96-bit IV and does not contain the plaintext", async () => {
    const ciphertext = await getTokenCipher([key("k1", 1)]).encrypt(PLAINTEXT, ROW);
    const [version, kid, iv, sealed, ...rest] = ciphertext.split(".");
    expect([version, kid, rest]).toStrictEqual(["v1", "k1", []]);
    expect(base64url.decode(iv ?? "")?.length).toBe(12);
    // AES-GCM output is as long as the plaintext, plus the 16-byte tag.
    expect(base64url.decode(sealed ?? "")?.length).toBe(new TextEncoder().encode(PLAINTEXT).length + 16);
    expect(ciphertext).not.toContain(PLAINTEXT);
  });

  it("encrypting the same plaintext twice uses a fresh IV and gives different values", async () => {
    const cipher = getTokenCipher([key("k1", 1)]);
    const first = await cipher.encrypt(PLAINTEXT, ROW);
    const second = await cipher.encrypt(PLAINTEXT, ROW);
    expect(second.split(".")[2]).not.toBe(first.split(".")[2]);
    expect(second).not.toBe(first);
  });
});

describe("a value is bound to its row", () => {
  it.each<[string, CiphertextContext]>([
    ["another connection", { ...ROW, connectionId: "conn_B" }],
    ["another user", { ...ROW, userId: "user_2" }],
    ["another field", { ...ROW, field: "refresh_token" }],
  ])("a value copied to %s fails authentication", async (_label, otherRow) => {
    const cipher = getTokenCipher([key("k1", 1)]);
    const ciphertext = await cipher.encrypt(PLAINTEXT, ROW);
    expect(await cipher.decrypt(ciphertext, otherRow)).toStrictEqual({ ok: false, reason: "authentication_failed" });
  });

  it("ids that would run together when concatenated still name different rows", async () => {
    const cipher = getTokenCipher([key("k1", 1)]);
    const ciphertext = await cipher.encrypt(PLAINTEXT, { ...ROW, connectionId: "conn_A|user", userId: "1" });
    const shifted = { ...ROW, connectionId: "conn_A", userId: "user|1" };
    expect(await cipher.decrypt(ciphertext, shifted)).toStrictEqual({ ok: false, reason: "authentication_failed" });
  });

  it("a token written before webhook secrets existed still decrypts for its row", async () => {
    // Written by the cipher as it was before the webhook-secret context was added (same key, row and plaintext).
    const stored = "v1.k1.C-aH_gAXTg0eT0yt.Iy1u3RQWhm0wux8e-ZZeHMaPX1Dh0baDj5pFBlUR0k0v2l0dLEePVl8x1rc";
    expect(await getTokenCipher([key("k1", 1)]).decrypt(stored, ROW)).toStrictEqual({ ok: true, plaintext: PLAINTEXT, keyId: "k1" });
  });
});

describe("a webhook secret is bound to its endpoint", () => {
  const ENDPOINT: CiphertextContext = { endpointId: "wh_A", field: "webhook_secret" };
  const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

  it("decrypts for the endpoint it was written for", async () => {
    const cipher = getTokenCipher([key("k1", 1)]);
    expect(await cipher.decrypt(await cipher.encrypt(SECRET, ENDPOINT), ENDPOINT)).toStrictEqual({
      ok: true,
      plaintext: SECRET,
      keyId: "k1",
    });
  });

  it("does not decrypt for another endpoint", async () => {
    const cipher = getTokenCipher([key("k1", 1)]);
    const stored = await cipher.encrypt(SECRET, ENDPOINT);
    expect(await cipher.decrypt(stored, { endpointId: "wh_B", field: "webhook_secret" })).toStrictEqual({
      ok: false,
      reason: "authentication_failed",
    });
  });

  it.each<[string, CiphertextContext]>([
    ["a connection token whose ids spell the endpoint's", { connectionId: "webhook_secret", userId: "wh_A", field: "access_token" }],
    ["a connection token named by the endpoint id", { connectionId: "wh_A", userId: "webhook_secret", field: "refresh_token" }],
  ])("does not decrypt as %s, and no token decrypts as a secret", async (_label, tokenRow) => {
    const cipher = getTokenCipher([key("k1", 1)]);
    expect(await cipher.decrypt(await cipher.encrypt(SECRET, ENDPOINT), tokenRow)).toStrictEqual({
      ok: false,
      reason: "authentication_failed",
    });
    expect(await cipher.decrypt(await cipher.encrypt(SECRET, tokenRow), ENDPOINT)).toStrictEqual({
      ok: false,
      reason: "authentication_failed",
    });
  });
});

describe("tampering", () => {
  it("a changed ciphertext byte fails authentication", async () => {
    const cipher = getTokenCipher([key("k1", 1)]);
    const tampered = withPart(await cipher.encrypt(PLAINTEXT, ROW), 3, flipFirstBit);
    expect(await cipher.decrypt(tampered, ROW)).toStrictEqual({ ok: false, reason: "authentication_failed" });
  });

  it("a changed IV fails authentication", async () => {
    const cipher = getTokenCipher([key("k1", 1)]);
    const tampered = withPart(await cipher.encrypt(PLAINTEXT, ROW), 2, flipFirstBit);
    expect(await cipher.decrypt(tampered, ROW)).toStrictEqual({ ok: false, reason: "authentication_failed" });
  });

  it("a truncated tag fails authentication", async () => {
    const cipher = getTokenCipher([key("k1", 1)]);
    const truncated = withPart(await cipher.encrypt(PLAINTEXT, ROW), 3, (part) => {
      const bytes = base64url.decode(part) ?? new Uint8Array();
      return base64url.encode(bytes.subarray(0, bytes.length - 1));
    });
    expect(await cipher.decrypt(truncated, ROW)).toStrictEqual({ ok: false, reason: "authentication_failed" });
  });

  it("a key id rewritten to another key in the ring fails authentication", async () => {
    const cipher = getTokenCipher([key("k2", 2), key("k1", 1)]);
    const relabelled = withPart(await cipher.encrypt(PLAINTEXT, ROW), 1, () => "k1");
    expect(await cipher.decrypt(relabelled, ROW)).toStrictEqual({ ok: false, reason: "authentication_failed" });
  });

  it("a key id rewritten to one outside the ring is an unknown key", async () => {
    const cipher = getTokenCipher([key("k1", 1)]);
    const relabelled = withPart(await cipher.encrypt(PLAINTEXT, ROW), 1, () => "k9");
    expect(await cipher.decrypt(relabelled, ROW)).toStrictEqual({ ok: false, reason: "unknown_key" });
  });

  it("a value written under another ring's key with the same id fails authentication", async () => {
    const written = await getTokenCipher([key("k1", 1)]).encrypt(PLAINTEXT, ROW);
    const result = await getTokenCipher([key("k1", 7)]).decrypt(written, ROW);
    expect(result).toStrictEqual({ ok: false, reason: "authentication_failed" });
  });
});

describe("malformed values", () => {
  const IV = base64url.encode(new Uint8Array(12));
  const TAG_ONLY = base64url.encode(new Uint8Array(16));

  it.each([
    ["an empty string", ""],
    ["a plaintext token", PLAINTEXT],
    ["too few parts", `v1.k1.${IV}`],
    ["too many parts", `v1.k1.${IV}.${TAG_ONLY}.extra`],
    ["another format version", `v2.k1.${IV}.${TAG_ONLY}`],
    ["an empty key id", `v1..${IV}.${TAG_ONLY}`],
    ["a key id with invalid characters", `v1.k 1.${IV}.${TAG_ONLY}`],
    ["an IV shorter than 96 bits", `v1.k1.${base64url.encode(new Uint8Array(8))}.${TAG_ONLY}`],
    ["an IV longer than 96 bits", `v1.k1.${base64url.encode(new Uint8Array(16))}.${TAG_ONLY}`],
    ["a ciphertext shorter than the tag", `v1.k1.${IV}.${base64url.encode(new Uint8Array(15))}`],
    ["standard base64 characters", `v1.k1.${IV}.${"+/".repeat(12)}`],
    ["base64 padding", `v1.k1.${IV}.${TAG_ONLY}==`],
  ])("%s is malformed", async (_label, value) => {
    const cipher = getTokenCipher([key("k1", 1)]);
    expect(await cipher.decrypt(value, ROW)).toStrictEqual({ ok: false, reason: "malformed" });
    expect(cipher.keyIdOf(value)).toBeNull();
  });
});

describe("key ring rotation", () => {
  it("a value written with the old key still decrypts after a new first key is added", async () => {
    const oldKey = key("k1", 1);
    const written = await getTokenCipher([oldKey]).encrypt(PLAINTEXT, ROW);
    const rotated = getTokenCipher([key("k2", 2), oldKey]);
    expect(await rotated.decrypt(written, ROW)).toStrictEqual({ ok: true, plaintext: PLAINTEXT, keyId: "k1" });
  });

  it("after a new first key is added, new values are written with it", async () => {
    const rotated = getTokenCipher([key("k2", 2), key("k1", 1)]);
    const written = await rotated.encrypt(PLAINTEXT, ROW);
    expect(rotated.currentKeyId).toBe("k2");
    expect(rotated.keyIdOf(written)).toBe("k2");
  });

  it("values written with an older key need re-encryption; values written with the current key do not", async () => {
    const oldKey = key("k1", 1);
    const oldValue = await getTokenCipher([oldKey]).encrypt(PLAINTEXT, ROW);
    const rotated = getTokenCipher([key("k2", 2), oldKey]);
    const newValue = await rotated.encrypt(PLAINTEXT, ROW);
    expect(needsReEncryption(oldValue, rotated)).toBe(true);
    expect(needsReEncryption(newValue, rotated)).toBe(false);
  });

  it("a malformed value is reported as needing re-encryption, so a rotation pass surfaces it", () => {
    expect(needsReEncryption("not-a-ciphertext", getTokenCipher([key("k1", 1)]))).toBe(true);
  });

  it("once the old key is removed from the ring, its values are an unknown key", async () => {
    const written = await getTokenCipher([key("k1", 1)]).encrypt(PLAINTEXT, ROW);
    const result = await getTokenCipher([key("k2", 2)]).decrypt(written, ROW);
    expect(result).toStrictEqual({ ok: false, reason: "unknown_key" });
  });
});

describe("imported keys", () => {
  it("the same key ring gives the same cipher", () => {
    const keys = [key("k1", 1)];
    expect(getTokenCipher(keys)).toBe(getTokenCipher(keys));
  });

  it("each key is imported once, however many values are encrypted and decrypted", async () => {
    const importKey = vi.spyOn(crypto.subtle, "importKey");
    const oldKey = key("k1", 1);
    const oldValue = await getTokenCipher([oldKey]).encrypt(PLAINTEXT, ROW);
    const keys = [key("k2", 2), oldKey];
    importKey.mockClear();

    for (let round = 0; round < 5; round += 1) {
      const cipher = getTokenCipher(keys);
      await Promise.all([cipher.encrypt(PLAINTEXT, ROW), cipher.decrypt(oldValue, ROW)]);
      await cipher.decrypt(await cipher.encrypt(PLAINTEXT, ROW), ROW);
    }
    expect(importKey).toHaveBeenCalledTimes(2);
  });

  it("a key is imported only when a value needs it", async () => {
    const importKey = vi.spyOn(crypto.subtle, "importKey");
    const cipher = getTokenCipher([key("k2", 2), key("k1", 1)]);
    expect(importKey).not.toHaveBeenCalled();
    await cipher.encrypt(PLAINTEXT, ROW);
    expect(importKey).toHaveBeenCalledTimes(1);
  });

  it("a key import that another request started and that never completes does not hold up a later use of the key", async () => {
    // The Workers runtime cancels a request's pending work, and a cancelled promise never settles (the rejection here
    // only lets this test end): a later request must import the key itself instead of joining that promise.
    let cancel: (reason: Error) => void = () => undefined;
    vi.spyOn(crypto.subtle, "importKey").mockImplementationOnce(
      () =>
        new Promise<CryptoKey>((_resolve, reject) => {
          cancel = reject;
        }),
    );
    const cipher = getTokenCipher([key("k1", 1)]);
    const first = cipher.encrypt(PLAINTEXT, ROW).catch((error: Error) => error.message);
    const second = cipher.encrypt(PLAINTEXT, ROW);
    cancel(new Error("the request that started the import was cancelled"));

    await expect(second).resolves.toMatch(/^v1\.k1\./);
    expect(await first).toMatch(/cancelled/);
  });

  it("imported keys cannot be exported", async () => {
    const importKey = vi.spyOn(crypto.subtle, "importKey");
    await getTokenCipher([key("k1", 1)]).encrypt(PLAINTEXT, ROW);
    const imported = await importKey.mock.results[0]?.value;
    expect(imported).toBeInstanceOf(CryptoKey);
    expect((imported as CryptoKey).extractable).toBe(false);
  });
});

describe("invalid key rings", () => {
  it("an empty ring is refused", () => {
    expect(() => getTokenCipher([])).toThrow("key ring is empty");
  });

  it("a key that is not 32 bytes is refused, naming its id but not its bytes", () => {
    const shortKey = { kid: "k1", key: new Uint8Array(16).fill(0xab) };
    expect(() => getTokenCipher([shortKey])).toThrow(/^token cipher: key "k1" is not 32 bytes$/);
  });

  it.each([
    ["repeated", [key("k1", 1), key("k1", 2)]],
    ["containing the format separator", [key("k.1", 1)]],
  ])("a key id %s is refused", (_label, keys) => {
    expect(() => getTokenCipher(keys)).toThrow("is invalid or repeated");
  });
});
