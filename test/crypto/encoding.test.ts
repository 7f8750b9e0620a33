import { describe, expect, it } from "vitest";
import { base64url } from "../../src/crypto/encoding";

const bytesOf = (text: string) => new TextEncoder().encode(text);

describe("base64url", () => {
  // RFC 4648 §10 test vectors, without their padding.
  it.each([
    ["", ""],
    ["f", "Zg"],
    ["fo", "Zm8"],
    ["foo", "Zm9v"],
    ["foob", "Zm9vYg"],
    ["fooba", "Zm9vYmE"],
    ["foobar", "Zm9vYmFy"],
  ])("encodes %j as %j and decodes it back", (text, encoded) => {
    expect(base64url.encode(bytesOf(text))).toBe(encoded);
    expect(base64url.decode(encoded)).toStrictEqual(bytesOf(text));
  });

  it("uses the URL-safe alphabet (- and _ instead of + and /)", () => {
    expect(base64url.encode(Uint8Array.of(0xfb, 0xef, 0xff))).toBe("--__");
  });

  it("round trips every byte value", () => {
    const everyByte = Uint8Array.from({ length: 256 }, (_, index) => index);
    expect(base64url.decode(base64url.encode(everyByte))).toStrictEqual(everyByte);
  });

  it.each([
    ["padding", "Zg=="],
    ["standard base64 characters", "+/+/"],
    ["whitespace", "Zm9v Yg"],
    ["a length that cannot come from whole bytes", "Zm9vY"],
    ["non-zero unused trailing bits (a second spelling of the same bytes)", "Zh"],
  ])("refuses %s", (_label, text) => {
    expect(base64url.decode(text)).toBeNull();
  });
});
