/**
 * When a failed delivery is tried again (docs/http-api.md, "Events (webhooks)"): 30 s, 2 min, 10 min, 30 min and
 * 1 h after the first five attempts, then every 2 h, until 24 h have passed since the event. Pure: the attempt
 * number, the event's time and `now` are passed in.
 */

/** Seconds before the attempt after attempt 1, 2, …; every later attempt waits the last of them. */
const RETRY_DELAYS_SECONDS = [30, 120, 600, 1800, 3600, 7200] as const;

/** How long after the event attempts go on; a retry that would start later is not made. */
const DELIVERY_WINDOW_MS = 24 * 60 * 60_000;

/** Seconds between attempt `attempt` (1 = the first) and the next one. */
export function retryDelaySeconds(attempt: number): number {
  const index = Math.min(Math.max(attempt, 1), RETRY_DELAYS_SECONDS.length) - 1;
  return RETRY_DELAYS_SECONDS[index]!;
}

export type NextAttempt = { kind: "retry"; delaySeconds: number; at: number } | { kind: "abandon" };

/**
 * What follows failed attempt `attempt`, made at `now`, of an event that happened at `occurredAt`: another attempt
 * after the schedule's delay, or none once that attempt would start more than 24 h after the event.
 */
export function nextAttempt(attempt: number, occurredAt: number, now: number): NextAttempt {
  const delaySeconds = retryDelaySeconds(attempt);
  const at = now + delaySeconds * 1000;
  return at - occurredAt > DELIVERY_WINDOW_MS ? { kind: "abandon" } : { kind: "retry", delaySeconds, at };
}
