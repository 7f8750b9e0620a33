/** The cookie that binds a connect session to the browser that pressed Continue. */
import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { Config } from "../config";
import type { PresentedBinding } from "./access";

/** Sent only to the connect page and its forms. */
const COOKIE_PATH = "/connect";
const COOKIE_PREFIX = "cm_connect_";

function cookieName(sessionId: string): string {
  return `${COOKIE_PREFIX}${sessionId}`;
}

/** Reads the binding cookie of a session from the request. */
export function presentedBinding(c: Context): PresentedBinding {
  return (sessionId) => getCookie(c, cookieName(sessionId));
}

/**
 * HttpOnly (no script reads it), `SameSite=Lax` (a cross-site form post does not carry it, a provider's redirect back
 * to the page does), named per session so two sessions in one browser coexist, and gone when the session expires.
 */
export function setBindingCookie(
  c: Context,
  config: Config,
  binding: { sessionId: string; cookieValue: string; expiresAt: number },
  now: number,
): void {
  setCookie(c, cookieName(binding.sessionId), binding.cookieValue, {
    path: COOKIE_PATH,
    httpOnly: true,
    sameSite: "Lax",
    secure: config.publicBaseUrl.startsWith("https:"),
    maxAge: Math.max(1, Math.floor((binding.expiresAt - now) / 1000)),
  });
}
