/** The cookie that binds a pending authorization to the browser that opened its start URL (RFC 9700 §4.7.1). */
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Config } from "../config";

/** These cookies are only ever sent to the start and callback endpoints. */
const COOKIE_PATH = "/v1/oauth/";
const COOKIE_PREFIX = "cm_flow_";

/** The part of a pending authorization that names and fills its cookie. */
export interface BrowserBinding {
  bindingId: string;
  bindingSecret: string;
}

function cookieName(bindingId: string): string {
  return `${COOKIE_PREFIX}${bindingId}`;
}

/** Binds this browser to the authorization: an HttpOnly cookie, named per authorization so two tabs coexist. */
export function bindBrowser(c: Context, config: Config, binding: BrowserBinding & { expiresAt: number }, now: number): void {
  setCookie(c, cookieName(binding.bindingId), binding.bindingSecret, {
    path: COOKIE_PATH,
    httpOnly: true,
    // Lax still sends the cookie on the provider's top-level GET redirect back to the callback.
    sameSite: "Lax",
    secure: config.publicBaseUrl.startsWith("https:"),
    maxAge: Math.max(1, Math.floor((binding.expiresAt - now) / 1000)),
  });
}

/** True when the browser presents the authorization's cookie with the expected value. */
export async function isBoundBrowser(c: Context, binding: BrowserBinding): Promise<boolean> {
  const presented = getCookie(c, cookieName(binding.bindingId));
  return presented !== undefined && (await constantTimeEqual(presented, binding.bindingSecret));
}

export function unbindBrowser(c: Context, config: Config, bindingId: string): void {
  deleteCookie(c, cookieName(bindingId), { path: COOKIE_PATH, secure: config.publicBaseUrl.startsWith("https:") });
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
