import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { ProblemError } from "../errors";
import type { Services } from "../services";
import type { ServicesVariables } from "./request-services";
import { RATE_LIMIT_PERIOD_SECONDS, WindowMarks } from "./window-marks";

/** The last window in which each key was audited, so a burst records one event per window, not one per request. */
const auditedWindows = new WindowMarks();

/** `user:{id}`, `ip:{address}` or `auth_failure:{address}`; the part before the colon names the limit in the audit. */
export type LimitKey = `${"user" | "ip" | "auth_failure"}:${string}`;

interface Limit {
  limiter: RateLimit;
  key: LimitKey;
}

/** The 429 answer for a spent limit, auditing `rate_limited` once per key and window. */
export function rateLimited(services: Services, key: LimitKey, now: number): ProblemError {
  if (auditedWindows.mark(key, now)) {
    services.audit.record({ action: "rate_limited", outcome: "failure", detail: { limit: key.slice(0, key.indexOf(":")) } });
  }
  return new ProblemError("rate-limited", `Too many requests; retry after ${RATE_LIMIT_PERIOD_SECONDS} seconds.`, {
    headers: { "Retry-After": String(RATE_LIMIT_PERIOD_SECONDS) },
  });
}

/** Answers 429 with `Retry-After` when the limit chosen for the request is spent; `choose` returning null skips. */
export function rateLimit<E extends { Bindings: Env; Variables: ServicesVariables }>(choose: (c: Context<E>) => Limit | null) {
  return createMiddleware<E>(async function enforceRateLimit(c, next) {
    const limit = choose(c);
    if (limit && !(await limit.limiter.limit({ key: limit.key })).success) {
      const services = c.get("services");
      throw rateLimited(services, limit.key, services.clock());
    }
    await next();
  });
}
