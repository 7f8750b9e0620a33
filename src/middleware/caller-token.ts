/** Verifies a caller's bearer token against the configured key sources (docs/http-api.md, "Callers"). */
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";
import type { CallerAuthConfig } from "../config";
import { parseScopes } from "../scopes";
import { CallerKeys, CallerKeysUnavailable, fetchKeySet } from "./caller-keys";

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

interface KeySources {
  secret: Uint8Array | null;
  jwks: CallerKeys | null;
}

const keySources = new WeakMap<CallerAuthConfig, KeySources>();

/** One set of key sources per configuration, so the key set cache lives as long as the isolate. */
function keySourcesFor(auth: CallerAuthConfig): KeySources {
  let sources = keySources.get(auth);
  if (!sources) {
    const { jwksUrl, jwksTimeoutMs } = auth;
    sources = {
      secret: auth.jwtSecret ? new TextEncoder().encode(auth.jwtSecret) : null,
      jwks: jwksUrl ? new CallerKeys(() => fetchKeySet(jwksUrl, jwksTimeoutMs), jwksTimeoutMs) : null,
    };
    keySources.set(auth, sources);
  }
  return sources;
}

async function verifiedPayload(auth: CallerAuthConfig, token: string, now: number): Promise<JWTPayload> {
  const { secret, jwks } = keySourcesFor(auth);
  const claims = {
    requiredClaims: ["exp", "sub"],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    currentDate: new Date(now),
    ...(auth.issuer ? { issuer: auth.issuer } : {}),
    ...(auth.audience ? { audience: auth.audience } : {}),
  };
  const { alg } = decodeProtectedHeader(token);
  if (secret && alg && SECRET_ALGORITHMS.includes(alg)) {
    return (await jwtVerify(token, secret, { ...claims, algorithms: SECRET_ALGORITHMS })).payload;
  }
  if (jwks && alg && JWKS_ALGORITHMS.includes(alg)) {
    return (await jwtVerify(token, (header) => jwks.keyFor(header, now), { ...claims, algorithms: JWKS_ALGORITHMS })).payload;
  }
  throw new joseErrors.JOSEAlgNotAllowed("algorithm not allowed");
}

/** Checks `token` at `now`: signature, algorithm, `exp`, `iss`/`aud` when configured, and a usable `sub`. */
export async function checkCallerToken(auth: CallerAuthConfig, token: string, now: number): Promise<CallerTokenCheck> {
  let payload: JWTPayload;
  try {
    payload = await verifiedPayload(auth, token, now);
  } catch (error) {
    if (error instanceof CallerKeysUnavailable)
      return { ok: false, reason: "keys_unavailable", retryAfterSeconds: error.retryAfterSeconds };
    if (error instanceof joseErrors.JWTExpired) return { ok: false, reason: "expired", code: "expired" };
    return { ok: false, reason: "invalid", code: failureCode(error) };
  }
  const subject = payload.sub;
  if (typeof subject !== "string" || subject.length === 0 || subject.length > MAX_SUBJECT_LENGTH) {
    return { ok: false, reason: "no_subject", code: "subject" };
  }
  const powers = new Set(parseScopes(typeof payload.scope === "string" ? payload.scope : null));
  return { ok: true, caller: { userId: subject, powers } };
}

function failureCode(error: unknown): string {
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `claim_${error.claim}`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return "algorithm_not_allowed";
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "signature";
  if (error instanceof joseErrors.JWKSNoMatchingKey) return "unknown_key";
  return "malformed";
}
