import { base64url } from "./encoding";

/** `bytes` bytes from the platform's CSPRNG as base64url: state values, PKCE verifiers, nonces. */
export function randomToken(bytes = 32): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** A row id: `prefix` as given (e.g. `conn_`) followed by 128 random bits, so ids cannot be guessed or enumerated. */
export function randomId(prefix: string): string {
  return `${prefix}${randomToken(16)}`;
}
