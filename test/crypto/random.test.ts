import { describe, expect, it } from "vitest";
import { base64url } from "../../src/crypto/encoding";
import { randomId, randomToken } from "../../src/crypto/random";

describe("randomToken", () => {
  it("is 32 random bytes as base64url by default", () => {
    expect(base64url.decode(randomToken())?.length).toBe(32);
  });

  it("holds the number of bytes asked for", () => {
    expect(base64url.decode(randomToken(16))?.length).toBe(16);
  });

  it("differs on every call", () => {
    const tokens = new Set(Array.from({ length: 100 }, () => randomToken()));
    expect(tokens.size).toBe(100);
  });
});

describe("randomId", () => {
  it("is the prefix as given followed by 16 random bytes as base64url", () => {
    const id = randomId("conn_");
    expect(id.startsWith("conn_")).toBe(true);
    expect(base64url.decode(id.slice("conn_".length))?.length).toBe(16);
  });

  it("differs on every call", () => {
    const ids = new Set(Array.from({ length: 100 }, () => randomId("conn_")));
    expect(ids.size).toBe(100);
  });
});
