/**
 * AES-256-GCM for every token and webhook signing secret at rest. A stored value reads `v1.{kid}.{iv}.{ciphertext}` (base64url parts;
 * the ciphertext ends with the 128-bit tag), so each value names the key that wrote it and a key ring can be
 * rotated: the ring's first key encrypts, every key in it decrypts.
 */
import type { EncryptionKey } from "../config";
import { base64url } from "./encoding";

export type TokenField = "access_token" | "refresh_token";

/** A connection's token: bound to the connection, its user and the field. */
export interface ConnectionTokenContext {
  connectionId: string;
  userId: string;
  field: TokenField;
}

/** A webhook endpoint's signing secret (current or previous): bound to the endpoint. */
export interface WebhookSecretContext {
  endpointId: string;
  field: "webhook_secret";
}

/** The row and field a value belongs to; authenticated with it, so a value moved elsewhere does not decrypt. */
export type CiphertextContext = ConnectionTokenContext | WebhookSecretContext;

export type DecryptFailureReason =
  | "malformed" // not a `v1.{kid}.{iv}.{ciphertext}` value
  | "unknown_key" // written with a key id that is not in the ring
  | "authentication_failed"; // tampered with, or written for another row, user, endpoint or field

/** Failures carry only their reason: never key, plaintext or ciphertext material. */
export type DecryptResult = { ok: true; plaintext: string; keyId: string } | { ok: false; reason: DecryptFailureReason };

export interface TokenCipher {
  /** The id of the key that new values are written with (the ring's first). */
  readonly currentKeyId: string;
  encrypt(plaintext: string, context: CiphertextContext): Promise<string>;
  decrypt(ciphertext: string, context: CiphertextContext): Promise<DecryptResult>;
  /** The id of the key that wrote `ciphertext`, or `null` when it is malformed. */
  keyIdOf(ciphertext: string): string | null;
}

const FORMAT_VERSION = "v1";
/**
 * 96 bits, the IV length NIST SP 800-38D recommends (§5.2.1.1, §8.2). IVs are random per value (§8.2.2),
 * which bounds one key to 2^32 encryptions (§8.3), one more reason to rotate keys.
 */
const IV_BYTES = 12;
/** The full 128-bit tag (SP 800-38D §5.2.1.2), WebCrypto's default; every valid ciphertext is at least this long. */
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** The ids `TOKEN_ENCRYPTION_KEYS` accepts; no `.`, so the stored format splits unambiguously. */
const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

interface ParsedCiphertext {
  keyId: string;
  iv: Uint8Array<ArrayBuffer>;
  sealed: Uint8Array<ArrayBuffer>;
}

function parseCiphertext(ciphertext: string): ParsedCiphertext | null {
  const parts = ciphertext.split(".");
  if (parts.length !== 4) return null;
  const [version, keyId, encodedIv, encodedSealed] = parts as [string, string, string, string];
  if (version !== FORMAT_VERSION || !KEY_ID_PATTERN.test(keyId)) return null;
  const iv = base64url.decode(encodedIv);
  const sealed = base64url.decode(encodedSealed);
  if (iv?.length !== IV_BYTES || !sealed || sealed.length < TAG_BYTES) return null;
  return { keyId, iv, sealed };
}

/**
 * The additional authenticated data. A JSON array of strings is unambiguous (no two contexts serialise
 * alike, whatever characters the ids hold). The format version and key id are bound too, so neither can be
 * rewritten in the stored value without failing authentication. A connection token's array is the five members it
 * has always had (stored values keep their meaning); a webhook secret's has four, so it never reads as a token's.
 */
function additionalData(keyId: string, context: CiphertextContext): Uint8Array {
  const bound =
    context.field === "webhook_secret" ? [context.field, context.endpointId] : [context.connectionId, context.userId, context.field];
  return textEncoder.encode(JSON.stringify([FORMAT_VERSION, keyId, ...bound]));
}

class AesGcmTokenCipher implements TokenCipher {
  readonly currentKeyId: string;
  readonly #current: EncryptionKey;
  readonly #ring: ReadonlyMap<string, EncryptionKey>;
  /**
   * Imported keys, never an import in flight: the Workers runtime cancels a request's pending work once that request
   * ends, and a cancelled promise never settles, so a request joining another's import could hang. Concurrent first
   * uses of a key each import it.
   */
  readonly #importedKeys = new Map<string, CryptoKey>();

  constructor(keys: readonly EncryptionKey[]) {
    const [current] = keys;
    if (!current) throw new Error("token cipher: the key ring is empty");
    const ring = new Map<string, EncryptionKey>();
    for (const entry of keys) {
      // Key ids are not secret; key bytes never appear in an error.
      if (!KEY_ID_PATTERN.test(entry.kid) || ring.has(entry.kid)) {
        throw new Error(`token cipher: key id "${entry.kid}" is invalid or repeated`);
      }
      if (entry.key.length !== KEY_BYTES) throw new Error(`token cipher: key "${entry.kid}" is not ${KEY_BYTES} bytes`);
      ring.set(entry.kid, entry);
    }
    this.currentKeyId = current.kid;
    this.#current = current;
    this.#ring = ring;
  }

  async encrypt(plaintext: string, context: CiphertextContext): Promise<string> {
    const keyId = this.#current.kid;
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const sealed = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: additionalData(keyId, context), tagLength: TAG_BYTES * 8 },
      await this.#cryptoKey(this.#current),
      textEncoder.encode(plaintext),
    );
    return [FORMAT_VERSION, keyId, base64url.encode(iv), base64url.encode(new Uint8Array(sealed))].join(".");
  }

  async decrypt(ciphertext: string, context: CiphertextContext): Promise<DecryptResult> {
    const parsed = parseCiphertext(ciphertext);
    if (!parsed) return { ok: false, reason: "malformed" };
    const entry = this.#ring.get(parsed.keyId);
    if (!entry) return { ok: false, reason: "unknown_key" };
    const key = await this.#cryptoKey(entry);
    let opened: ArrayBuffer;
    try {
      opened = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: parsed.iv, additionalData: additionalData(parsed.keyId, context), tagLength: TAG_BYTES * 8 },
        key,
        parsed.sealed,
      );
    } catch {
      // The IV length, tag length and key are already checked, so the only way left to fail is the tag.
      return { ok: false, reason: "authentication_failed" };
    }
    return { ok: true, plaintext: textDecoder.decode(opened), keyId: parsed.keyId };
  }

  keyIdOf(ciphertext: string): string | null {
    return parseCiphertext(ciphertext)?.keyId ?? null;
  }

  /** Imported on first use, non-extractable, then kept for the isolate's lifetime. */
  async #cryptoKey(entry: EncryptionKey): Promise<CryptoKey> {
    const cached = this.#importedKeys.get(entry.kid);
    if (cached) return cached;
    const imported = await crypto.subtle.importKey("raw", entry.key, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
    this.#importedKeys.set(entry.kid, imported);
    return imported;
  }
}

const ciphers = new WeakMap<readonly EncryptionKey[], TokenCipher>();

/**
 * The cipher for a key ring, built once per isolate for each ring (the parsed config's ring is one frozen
 * array), so its imported keys are reused by every request. Throws when the ring itself is invalid.
 */
export function getTokenCipher(keys: readonly EncryptionKey[]): TokenCipher {
  let cipher = ciphers.get(keys);
  if (!cipher) {
    cipher = new AesGcmTokenCipher(keys);
    ciphers.set(keys, cipher);
  }
  return cipher;
}

/**
 * Whether a stored value should be rewritten with the current key (key rotation). Malformed values answer
 * `true` too, so a rotation pass tries them and reports their decrypt failure instead of skipping them.
 */
export function needsReEncryption(ciphertext: string, cipher: TokenCipher): boolean {
  return cipher.keyIdOf(ciphertext) !== cipher.currentKeyId;
}
