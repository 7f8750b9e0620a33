/**
 * Failed caller authentications counted per client address. A bad token costs a verification and an audit row, so
 * without a limit anyone can make the service write without credentials. Valid traffic is never counted: one
 * backend sends thousands of valid requests a minute for many users from one address.
 */
import type { ProblemError } from "../errors";
import type { Services } from "../services";
import { rateLimited } from "./rate-limit";
import { WindowMarks } from "./window-marks";

/**
 * Addresses that spent their limit in the current window. Cloudflare's binding only offers `limit()`, which counts
 * every call, so an address is asked about only when it fails; once refused, this isolate refuses it before
 * verifying anything until the window ends.
 */
const spentAddresses = new WindowMarks();
/** Addresses whose failure this isolate audited in the current window: one `auth.failed` row per address and window. */
const auditedAddresses = new WindowMarks();

/** The 429 for an address that spent its limit in this window, or null: checked before any token is verified. */
export function refusalBeforeVerifying(services: Services, address: string | null, now: number): ProblemError | null {
  return address && spentAddresses.has(address, now) ? rateLimited(services, `auth_failure:${address}`, now) : null;
}

/**
 * Counts a failed authentication against its address and audits it once per address and window; returns the 429
 * when this failure spent the limit. Requests without an address (local runs; Cloudflare always sets it) are
 * audited every time and never limited.
 */
export async function countFailure(
  services: Services,
  limiter: RateLimit,
  failure: { address: string | null; reason: string; now: number },
): Promise<ProblemError | null> {
  const { address, reason, now } = failure;
  if (address === null || auditedAddresses.mark(address, now)) {
    services.audit.record({ action: "auth.failed", outcome: "failure", detail: { reason } });
  }
  if (address === null || (await limiter.limit({ key: `auth_failure:${address}` })).success) return null;
  spentAddresses.mark(address, now);
  return rateLimited(services, `auth_failure:${address}`, now);
}
