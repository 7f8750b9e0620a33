/** id_token verification (OpenID Connect Core §3.1.3.7) with jose. */
import type { AccountIdentity, IdentityFailureReason } from "./provider";
import { createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";

/** Clock skew tolerated for `exp` and `iat` (the provider's clock and ours). */
export const MAX_CLOCK_SKEW_SECONDS = 300;

/** Asymmetric algorithms we ever accept; `none` and HS* (the client secret as key) never are. */
const SUPPORTED_ALGORITHMS = new Set(["RS256", "ES256", "PS256"]);

/** Built-in providers sign with RS256 only. */
export const RS256_ONLY: readonly string[] = ["RS256"];

export interface IdTokenExpectations {
  /** Exact issuer values accepted. */
  issuers: readonly string[];
  clientId: string;
  nonce: string;
  now: Date;
  algorithms: readonly string[];
}

export type IdTokenResult =
  { ok: true; claims: JWTPayload } | { ok: false; reason: IdentityFailureReason; /** Never holds the token. */ detail: string };

/**
 * The key set could not be fetched or read: our or the provider's trouble, not a forged token. jose reports a
 * non-200 or non-JSON key set response as ERR_JOSE_GENERIC.
 */
const KEY_SET_UNAVAILABLE = new Set(["ERR_JWKS_TIMEOUT", "ERR_JWKS_INVALID", "ERR_JOSE_GENERIC"]);

const keySets = new Map<string, JWTVerifyGetKey>();

/**
 * The provider's signing keys, one cache per JWKS URL and isolate; jose refetches on an unknown `kid`
 * (at most once per cooldown) so key rotation at the provider needs no restart. The cache holds only a parsed key
 * set: on Workers jose never joins a fetch another request started (jwks/remote.js, `isCloudflareWorkers`), since
 * the runtime cancels a request's pending work when it ends and a cancelled promise never settles.
 */
export function remoteKeySet(jwksUrl: string): JWTVerifyGetKey {
  let keys = keySets.get(jwksUrl);
  if (!keys) {
    keys = createRemoteJWKSet(new URL(jwksUrl), { timeoutDuration: 5_000 });
    keySets.set(jwksUrl, keys);
  }
  return keys;
}

/** The claims without any verification, for choosing what to verify against (Microsoft's `tid`); `null` if undecodable. */
export function unverifiedClaims(idToken: string): JWTPayload | null {
  try {
    return decodeJwt(idToken);
  } catch {
    return null;
  }
}

/** Verifies signature, algorithm, `iss`, `aud`/`azp`, `exp`, `iat` and `nonce`. The detail never holds the token. */
export async function verifyIdToken(idToken: string, keys: JWTVerifyGetKey, expected: IdTokenExpectations): Promise<IdTokenResult> {
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(idToken, keys, {
      algorithms: expected.algorithms.filter((alg) => SUPPORTED_ALGORITHMS.has(alg)),
      issuer: [...expected.issuers],
      audience: expected.clientId,
      currentDate: expected.now,
      clockTolerance: MAX_CLOCK_SKEW_SECONDS,
      requiredClaims: ["iss", "sub", "aud", "exp", "iat"],
    }));
  } catch (error) {
    if (error instanceof errors.JOSEError && !KEY_SET_UNAVAILABLE.has(error.code)) {
      return { ok: false, reason: "invalid_id_token", detail: `${error.code}: ${error.message}` };
    }
    return { ok: false, reason: "identity_failed", detail: "signing keys unavailable" };
  }
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  // §3.1.3.7 items 4-5: with several audiences `azp` must name us; when present it must name us anyway.
  if ((audiences.length > 1 || claims.azp !== undefined) && claims.azp !== expected.clientId) {
    return { ok: false, reason: "invalid_id_token", detail: "azp is not our client_id" };
  }
  // `iat` is a required claim, so jose has checked it is there and numeric.
  const issuedAgo = expected.now.getTime() / 1000 - (claims.iat as number);
  if (Math.abs(issuedAgo) > MAX_CLOCK_SKEW_SECONDS) return { ok: false, reason: "invalid_id_token", detail: "iat is not recent" };
  if (claims.nonce !== expected.nonce) return { ok: false, reason: "invalid_id_token", detail: "nonce does not match the stored one" };
  return { ok: true, claims };
}

/** The account an id_token names: `sub`, the email only when verified, and the name. */
export function accountFromClaims(claims: JWTPayload): AccountIdentity {
  const { sub, email, email_verified: emailVerified, name } = claims;
  return {
    id: String(sub),
    // An unverified address could belong to someone else (OIDC Core §5.7).
    ...(emailVerified === true && typeof email === "string" ? { email } : {}),
    ...(typeof name === "string" ? { name } : {}),
  };
}
