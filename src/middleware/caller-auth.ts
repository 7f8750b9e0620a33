import { createMiddleware } from "hono/factory";
import { createRemoteJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";
import type { CallerAuthConfig } from "../config";
import { ProblemError } from "../errors";
import type { ServicesVariables } from "./request-services";

/** The powers a caller's `scope` claim may grant (docs/http-api.md, "Callers"). */
export type CallerPower = "connections:token" | "admin";

export interface Caller {
  userId: string;
  powers: ReadonlySet<string>;
}

/** What `callerAuth` puts on the context; only the API router's handlers have it. */
export interface CallerVariables {
  caller: Caller;
}

/** Algorithms accepted per key source; separating them rules out HS/RS confusion, and `none` is never listed. */
const SECRET_ALGORITHMS = ["HS256"];
const JWKS_ALGORITHMS = ["RS256", "ES256"];
const CLOCK_TOLERANCE_SECONDS = 30;
const MAX_SUBJECT_LENGTH = 255;

type Verifier = (token: string) => Promise<JWTPayload>;

const verifiers = new WeakMap<CallerAuthConfig, Verifier>();

/** One verifier per configuration, so the JWKS (and its cache) lives as long as the isolate. */
function verifierFor(auth: CallerAuthConfig): Verifier {
  let verifier = verifiers.get(auth);
  if (verifier) return verifier;
  const secret = auth.jwtSecret ? new TextEncoder().encode(auth.jwtSecret) : null;
  const jwks = auth.jwksUrl
    ? createRemoteJWKSet(new URL(auth.jwksUrl), { cacheMaxAge: 10 * 60_000, cooldownDuration: 30_000, timeoutDuration: 5_000 })
    : null;
  const claims = {
    requiredClaims: ["exp", "sub"],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    ...(auth.issuer ? { issuer: auth.issuer } : {}),
    ...(auth.audience ? { audience: auth.audience } : {}),
  };
  verifier = async (token) => {
    const { alg } = decodeProtectedHeader(token);
    if (secret && alg && SECRET_ALGORITHMS.includes(alg)) {
      return (await jwtVerify(token, secret, { ...claims, algorithms: SECRET_ALGORITHMS })).payload;
    }
    if (jwks && alg && JWKS_ALGORITHMS.includes(alg)) {
      return (await jwtVerify(token, jwks, { ...claims, algorithms: JWKS_ALGORITHMS })).payload;
    }
    throw new joseErrors.JOSEAlgNotAllowed("algorithm not allowed");
  };
  verifiers.set(auth, verifier);
  return verifier;
}

function invalidToken(reason: string): ProblemError {
  // The verifier's own message is never echoed: some verifiers embed the token in it.
  return new ProblemError("unauthorized", reason, {
    headers: { "WWW-Authenticate": 'Bearer realm="connection-manager", error="invalid_token"' },
  });
}

/** Resolves the caller from `Authorization: Bearer <JWT>` or answers 401. */
export function callerAuth() {
  return createMiddleware<{ Bindings: Env; Variables: ServicesVariables & CallerVariables }>(async function authenticateCaller(c, next) {
    const header = c.req.header("Authorization");
    const match = header?.match(/^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/);
    if (!match?.[1]) {
      throw new ProblemError("unauthorized", "Send Authorization: Bearer <JWT>.");
    }
    let payload: JWTPayload;
    try {
      payload = await verifierFor(c.get("services").config.auth)(match[1]);
    } catch (error) {
      const reason = error instanceof joseErrors.JWTExpired ? "The token has expired." : "The token is not valid.";
      c.get("services").audit.record({ action: "auth.failed", outcome: "failure", detail: { reason: classify(error) } });
      throw invalidToken(reason);
    }
    const subject = payload.sub;
    if (typeof subject !== "string" || subject.length === 0 || subject.length > MAX_SUBJECT_LENGTH) {
      throw invalidToken("The token has no usable subject.");
    }
    const scope = typeof payload.scope === "string" ? payload.scope : "";
    c.set("caller", { userId: subject, powers: new Set(scope.split(" ").filter(Boolean)) });
    c.get("services").audit.attribute(subject, "user");
    await next();
  });
}

function classify(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return "expired";
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `claim_${error.claim}`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return "algorithm_not_allowed";
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "signature";
  if (error instanceof joseErrors.JWKSNoMatchingKey) return "unknown_key";
  return "malformed";
}

/**
 * Refuses callers whose token lacks `power` with 403. Used as route middleware, so it runs before the body is
 * validated: a caller without the power learns nothing about what a valid request looks like.
 */
export function requirePower(power: CallerPower) {
  return createMiddleware<{ Variables: CallerVariables }>(async function checkPower(c, next) {
    if (!c.get("caller").powers.has(power)) {
      throw new ProblemError("forbidden", `This operation needs the "${power}" scope in the caller's token.`, {
        extensions: { required_scope: power },
      });
    }
    await next();
  });
}
