import { createMiddleware } from "hono/factory";
import { ProblemError } from "../errors";
import { countFailure, refusalBeforeVerifying } from "./auth-failure-limit";
import { checkCallerToken, type Caller } from "./caller-token";
import type { ServicesVariables } from "./request-services";

export type { Caller };

/** The powers a caller's `scope` claim may grant (docs/http-api.md, "Callers"). */
export type CallerPower = "connections:token" | "admin";

/** What `callerAuth` puts on the context; only the API router's handlers have it. */
export interface CallerVariables {
  caller: Caller;
}

/** The auth-scheme is case-insensitive (RFC 9110 §11.1); the token is a compact JWS (RFC 7515 §7.1). */
const BEARER = /^bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i;

const DETAILS = {
  expired: "The token has expired.",
  invalid: "The token is not valid.",
  no_subject: "The token has no usable subject.",
} as const;

function invalidToken(reason: keyof typeof DETAILS): ProblemError {
  // The verifier's own message is never echoed: some verifiers embed the token in it.
  return new ProblemError("unauthorized", DETAILS[reason], {
    headers: { "WWW-Authenticate": 'Bearer realm="connection-manager", error="invalid_token"' },
  });
}

/**
 * Resolves the caller from `Authorization: Bearer <JWT>` or answers 401. An address that failed too often in this
 * window is answered 429 before its token is looked at; a key set that cannot be fetched is 503, never the caller's
 * fault.
 */
export function callerAuth() {
  return createMiddleware<{ Bindings: Env; Variables: ServicesVariables & CallerVariables }>(async function authenticateCaller(c, next) {
    const services = c.get("services");
    const now = services.clock();
    // Cloudflare always sets it; local runs may not, and are then not limited by address.
    const address = c.req.header("CF-Connecting-IP") ?? null;
    const refusal = refusalBeforeVerifying(services, address, now);
    if (refusal) throw refusal;
    const token = c.req.header("Authorization")?.match(BEARER)?.[1];
    if (!token) throw new ProblemError("unauthorized", "Send Authorization: Bearer <JWT>.");

    const check = await checkCallerToken(services.config.auth, token, now);
    if (!check.ok) {
      if (check.reason === "keys_unavailable") {
        throw new ProblemError("service-unavailable", "The caller keys cannot be fetched just now; retry shortly.", {
          headers: { "Retry-After": String(check.retryAfterSeconds) },
        });
      }
      const limited = await countFailure(services, c.env.AUTH_FAILURE_RATE_LIMITER, { address, reason: check.code, now });
      throw limited ?? invalidToken(check.reason);
    }
    c.set("caller", check.caller);
    services.audit.attribute(check.caller.userId, "user");
    await next();
  });
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
