/**
 * Signing secrets as Standard Webhooks prescribes them: `whsec_` followed by the standard base64 (RFC 4648 §4) of
 * random bytes, so that any of its verifier libraries takes the secret as it is shown.
 */

const WEBHOOK_SECRET_PREFIX = "whsec_";

/**
 * 32 bytes: within the 24 to 64 the scheme asks for, and the output length of SHA-256, the key length RFC 2104 §3
 * recommends for HMAC-SHA256 (a longer key adds no strength).
 */
const SECRET_BYTES = 32;

/** A new secret from the platform's CSPRNG. */
export function generateWebhookSecret(): string {
  let binary = "";
  for (const byte of crypto.getRandomValues(new Uint8Array(SECRET_BYTES))) binary += String.fromCharCode(byte);
  return `${WEBHOOK_SECRET_PREFIX}${btoa(binary)}`;
}
