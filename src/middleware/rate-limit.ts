import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { ProblemError } from "../errors";
import type { ServicesVariables } from "./request-services";

/** The `period` of both `ratelimits` entries in wrangler.jsonc; the binding does not expose it. */
export const RATE_LIMIT_PERIOD_SECONDS = 60;

/** The last window in which each key was audited, so a burst records one event per window, not one per request. */
const auditedWindows = new Map<string, number>();
const MAX_TRACKED_KEYS = 10_000;

function firstHitInWindow(key: string, now: number): boolean {
  const window = Math.floor(now / (RATE_LIMIT_PERIOD_SECONDS * 1000));
  if (auditedWindows.get(key) === window) return false;
  if (auditedWindows.size >= MAX_TRACKED_KEYS) auditedWindows.clear();
  auditedWindows.set(key, window);
  return true;
}

interface Limit {
  limiter: RateLimit;
  /** `user:{id}` or `ip:{address}`. */
  key: string;
}

/** Answers 429 with `Retry-After` when the limit chosen for the request is spent; `choose` returning null skips. */
export function rateLimit<E extends { Bindings: Env; Variables: ServicesVariables }>(choose: (c: Context<E>) => Limit | null) {
  return createMiddleware<E>(async function enforceRateLimit(c, next) {
    const limit = choose(c);
    if (limit && !(await limit.limiter.limit({ key: limit.key })).success) {
      if (firstHitInWindow(limit.key, c.get("services").clock())) {
        c.get("services").audit.record({
          action: "rate_limited",
          outcome: "failure",
          detail: { limit: limit.key.replace(/:[\s\S]*$/, "") },
        });
      }
      throw new ProblemError("rate-limited", `Too many requests; retry after ${RATE_LIMIT_PERIOD_SECONDS} seconds.`, {
        headers: { "Retry-After": String(RATE_LIMIT_PERIOD_SECONDS) },
      });
    }
    await next();
  });
}
