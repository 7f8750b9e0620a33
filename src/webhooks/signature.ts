/**
 * Webhook signatures the Standard Webhooks way (https://www.standardwebhooks.com, "Signature scheme"), so receivers
 * verify them with any of its libraries: `v1,` + base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`,
 * keyed with the base64-decoded part of a `whsec_…` secret after its prefix. Several signatures (a secret rotation's
 * overlap) are separated by spaces, and a verifier accepts the message when any one of them matches.
 */

const SECRET_PREFIX = "whsec_";
const SIGNATURE_VERSION = "v1";
const textEncoder = new TextEncoder();

/** What one attempt signs: the event's id (the same on every attempt), this attempt's time and the exact body sent. */
export interface SignedContent {
  id: string;
  /** Unix seconds of this attempt: receivers refuse one more than 5 minutes old, so every attempt is signed afresh. */
  timestamp: number;
  body: string;
}

/** The `webhook-id`, `webhook-timestamp` and `webhook-signature` headers of one attempt, signed with every secret given. */
export async function signatureHeaders(content: SignedContent, secrets: readonly string[]): Promise<Record<string, string>> {
  if (secrets.length === 0) throw new Error("no signing secret");
  const signed = textEncoder.encode(`${content.id}.${content.timestamp}.${content.body}`);
  const signatures = await Promise.all(secrets.map((secret) => sign(secret, signed)));
  return {
    "webhook-id": content.id,
    "webhook-timestamp": String(content.timestamp),
    "webhook-signature": signatures.join(" "),
  };
}

async function sign(secret: string, signed: Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey("raw", secretKeyBytes(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, signed));
  return `${SIGNATURE_VERSION},${base64(mac)}`;
}

/** The key bytes of a `whsec_` secret: standard base64 (RFC 4648 §4) after the prefix. */
function secretKeyBytes(secret: string): Uint8Array<ArrayBuffer> {
  // The message names the shape only: it must never quote the secret.
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error("a signing secret must start with whsec_");
  return Uint8Array.from(atob(secret.slice(SECRET_PREFIX.length)), (char) => char.charCodeAt(0));
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}
