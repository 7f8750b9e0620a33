/** base64url without padding (RFC 4648 §5), the encoding of every token, id and ciphertext part we emit. */

const BASE64URL_PATTERN = /^[A-Za-z0-9_-]*$/;

function encode(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * The bytes of an unpadded base64url string, or `null` when it is not one. Only the canonical encoding is
 * accepted (unused trailing bits zero, RFC 4648 §3.5), so each byte string has exactly one text form.
 */
function decode(text: string): Uint8Array<ArrayBuffer> | null {
  // A length of 1 mod 4 cannot come from whole bytes.
  if (!BASE64URL_PATTERN.test(text) || text.length % 4 === 1) return null;
  const bytes = Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (char) => char.charCodeAt(0));
  return encode(bytes) === text ? bytes : null;
}

export const base64url = { encode, decode } as const;
