import { base64url } from "./encoding";

/** SHA-256 of the text's UTF-8 bytes, base64url: how a secret is stored or compared without keeping it. */
export async function sha256Base64url(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return base64url.encode(new Uint8Array(digest));
}
