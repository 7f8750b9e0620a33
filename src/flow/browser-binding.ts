import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Config } from "../config";

/** Cookies of a flow are only ever sent to the start and callback endpoints. */
const COOKIE_PATH = "/v1/oauth/";
const COOKIE_PREFIX = "cm_flow_";

function cookieName(flowId: string): string {
  return `${COOKIE_PREFIX}${flowId}`;
}

/** Binds this browser to the flow: an HttpOnly cookie, named per flow so parallel flows in two tabs coexist. */
export function bindBrowser(
  c: Context,
  config: Config,
  flow: { flowId: string; browserBinding: string; expiresAt: number },
  now: number,
): void {
  setCookie(c, cookieName(flow.flowId), flow.browserBinding, {
    path: COOKIE_PATH,
    httpOnly: true,
    // Lax still sends the cookie on the provider's top-level GET redirect back to the callback.
    sameSite: "Lax",
    secure: config.publicBaseUrl.startsWith("https:"),
    maxAge: Math.max(1, Math.floor((flow.expiresAt - now) / 1000)),
  });
}

/** True when the browser presents the flow's cookie with the expected value. */
export async function isBoundBrowser(c: Context, flow: { flowId: string; browserBinding: string }): Promise<boolean> {
  const presented = getCookie(c, cookieName(flow.flowId));
  return presented !== undefined && (await constantTimeEqual(presented, flow.browserBinding));
}

export function unbindBrowser(c: Context, config: Config, flowId: string): void {
  deleteCookie(c, cookieName(flowId), { path: COOKIE_PATH, secure: config.publicBaseUrl.startsWith("https:") });
}

/** Compares digests so the time taken does not depend on where the values differ. */
async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const encoder = new TextEncoder();
  const [left, right] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  return crypto.subtle.timingSafeEqual(left, right);
}
