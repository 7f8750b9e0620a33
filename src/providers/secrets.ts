/**
 * Random values for the authorization flow. The flow imports these instead of arctic, so that arctic stays
 * confined to src/providers and can be replaced without touching callers.
 */
import { generateCodeVerifier as arcticCodeVerifier, generateState as arcticState } from "arctic";

/** 256 random bits, base64url (43 characters). */
export function generateState(): string {
  return arcticState();
}

/** RFC 7636 §4.1 verifier: 32 random bytes as base64url (43 characters). */
export function generateCodeVerifier(): string {
  return arcticCodeVerifier();
}

/** OpenID Connect `nonce`: 256 random bits, base64url; as unguessable as `state`. */
export function generateNonce(): string {
  return arcticState();
}
