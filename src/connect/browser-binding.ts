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

/**
 * A cookie that binds something to this browser (an authorization here, a connect session's page too): HttpOnly (no
 * script reads it), `SameSite=Lax` (a provider's top-level GET redirect back carries it, a cross-site form post does
 * not), Secure on an https service, and gone when what it binds expires.
 */
export function setBrowserCookie(
  c: Context,
  config: Config,
  cookie: { name: string; path: string; value: string; expiresAt: number },
  now: number,
): void {
  setCookie(c, cookie.name, cookie.value, {
    path: cookie.path,
    httpOnly: true,
    sameSite: "Lax",
    secure: isHttpsService(config),
    maxAge: Math.max(1, Math.floor((cookie.expiresAt - now) / 1000)),
  });
}

function isHttpsService(config: Config): boolean {
  return config.publicBaseUrl.startsWith("https:");
}

/** Binds this browser to the authorization: a cookie named per authorization so two tabs coexist. */
export function bindBrowser(c: Context, config: Config, binding: BrowserBinding & { expiresAt: number }, now: number): void {
  const cookie = { name: cookieName(binding.bindingId), path: COOKIE_PATH, value: binding.bindingSecret, expiresAt: binding.expiresAt };
  setBrowserCookie(c, config, cookie, now);
}

/** True when the browser presents the authorization's cookie with the expected value. */
export async function isBoundBrowser(c: Context, binding: BrowserBinding): Promise<boolean> {
  const presented = getCookie(c, cookieName(binding.bindingId));
  return presented !== undefined && (await constantTimeEqual(presented, binding.bindingSecret));
}

export function unbindBrowser(c: Context, config: Config, bindingId: string): void {
  deleteCookie(c, cookieName(bindingId), { path: COOKIE_PATH, secure: isHttpsService(config) });
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
