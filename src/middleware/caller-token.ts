/** Verifies a caller's bearer token against the configured key sources (docs/http-api.md, "Callers"). */
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";
import type { CallerAuthConfig } from "../config";
import { parseScopes } from "../scopes";
import { CallerKeys, CallerKeysUnavailable, fetchKeySet } from "./caller-keys";
import { sha256Base64url } from "../crypto/digest";
import { VerifiedTokens, type TokenLifetime } from "./verified-tokens";

export interface Caller {
  userId: string;
  powers: ReadonlySet<string>;
}

export type CallerTokenCheck =
  | { ok: true; caller: Caller }
  /** `code` is the audit detail: which check refused the token. */
  | { ok: false; reason: "expired" | "invalid" | "no_subject"; code: string }
  | { ok: false; reason: "keys_unavailable"; retryAfterSeconds: number };

/** Algorithms accepted per key source; separating them rules out HS/RS confusion, and `none` is never listed. */
const SECRET_ALGORITHMS = ["HS256"];
const JWKS_ALGORITHMS = ["RS256", "ES256"];
/** The accepted clock skew on `exp` and `nbf` (docs/http-api.md, "Callers"). */
const CLOCK_TOLERANCE_SECONDS = 30;
const MAX_SUBJECT_LENGTH = 255;
/** Distinct HS256 tokens remembered per isolate: a few backends' tokens, or one per user, for the busiest users. */
const MAX_VERIFIED_TOKENS = 10_000;

interface KeySources {
  /** The shared secret and the tokens it verified, remembered (./verified-tokens.ts). */
  secret: { key: Uint8Array; verified: VerifiedTokens } | null;
  /**
   * Tokens verified against the JWKS are not remembered: a key removed from the set must stop its tokens at the next
   * fetch of the set, which a remembered answer would outlive.
   */
  jwks: CallerKeys | null;
}

const keySources = new WeakMap<CallerAuthConfig, KeySources>();

/** One set of key sources per configuration, so the key set cache lives as long as the isolate. */
function keySourcesFor(auth: CallerAuthConfig): KeySources {
  let sources = keySources.get(auth);
  if (!sources) {
    const { jwtSecret, jwksUrl, jwksTimeoutMs } = auth;
    sources = {
      secret: jwtSecret
        ? { key: new TextEncoder().encode(jwtSecret), verified: new VerifiedTokens(MAX_VERIFIED_TOKENS, CLOCK_TOLERANCE_SECONDS) }
        : null,
      jwks: jwksUrl ? new CallerKeys(() => fetchKeySet(jwksUrl, jwksTimeoutMs), jwksTimeoutMs) : null,
    };
    keySources.set(auth, sources);
  }
  return sources;
}

type CallerTokenRefusal = Exclude<CallerTokenCheck, { ok: true }>;

/**
 * Checks `token` at `now`: signature, algorithm, `exp`, `iss`/`aud` when configured, and a usable `sub`. An HS256
 * token that passed all of them before is answered from memory while its time claims still hold (verified-tokens.ts);
 * only those are hashed.
 */
export async function checkCallerToken(auth: CallerAuthConfig, token: string, now: number): Promise<CallerTokenCheck> {
  const { secret, jwks } = keySourcesFor(auth);
  let alg: string | undefined;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch (error) {
    return refusal(error);
  }
  const claims = {
    requiredClaims: ["exp", "sub"],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    currentDate: new Date(now),
    ...(auth.issuer ? { issuer: auth.issuer } : {}),
    ...(auth.audience ? { audience: auth.audience } : {}),
  };
  if (secret && alg && SECRET_ALGORITHMS.includes(alg)) {
    const digest = await sha256Base64url(token);
    const known = secret.verified.find(digest, now);
    if (known) return { ok: true, caller: known };
    const check = await verifiedCaller(() => jwtVerify(token, secret.key, { ...claims, algorithms: SECRET_ALGORITHMS }));
    if (!check.ok) return check;
    secret.verified.remember(digest, check.caller, check.lifetime);
    return { ok: true, caller: check.caller };
  }
  if (jwks && alg && JWKS_ALGORITHMS.includes(alg)) {
    const check = await verifiedCaller(() =>
      jwtVerify(token, (header) => jwks.keyFor(header, now), { ...claims, algorithms: JWKS_ALGORITHMS }),
    );
    return check.ok ? { ok: true, caller: check.caller } : check;
  }
  return refusal(new joseErrors.JOSEAlgNotAllowed("algorithm not allowed"));
}

/** The caller of the payload `verify` resolves to, with the time claims it was accepted under, or why it was not. */
async function verifiedCaller(
  verify: () => Promise<{ payload: JWTPayload }>,
): Promise<{ ok: true; caller: Caller; lifetime: TokenLifetime } | CallerTokenRefusal> {
  let payload: JWTPayload;
  try {
    ({ payload } = await verify());
  } catch (error) {
    return refusal(error);
  }
  const subject = payload.sub;
  if (typeof subject !== "string" || subject.length === 0 || subject.length > MAX_SUBJECT_LENGTH) {
    return { ok: false, reason: "no_subject", code: "subject" };
  }
  const powers = new Set(parseScopes(typeof payload.scope === "string" ? payload.scope : null));
  // `exp` is a required claim, so a verified payload has it.
  return { ok: true, caller: { userId: subject, powers }, lifetime: { exp: payload.exp!, nbf: payload.nbf } };
}

function refusal(error: unknown): CallerTokenRefusal {
  if (error instanceof CallerKeysUnavailable) return { ok: false, reason: "keys_unavailable", retryAfterSeconds: error.retryAfterSeconds };
  if (error instanceof joseErrors.JWTExpired) return { ok: false, reason: "expired", code: "expired" };
  return { ok: false, reason: "invalid", code: failureCode(error) };
}

function failureCode(error: unknown): string {
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `claim_${error.claim}`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return "algorithm_not_allowed";
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "signature";
  if (error instanceof joseErrors.JWKSNoMatchingKey) return "unknown_key";
  return "malformed";
}
