/** The cookie that binds a connect session to the browser that pressed Continue. */
import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import type { Config } from "../config";
import { setBrowserCookie } from "../connect/browser-binding";
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
 * A binding cookie as the connect flow's own (a cross-site form post does not carry it, a provider's redirect back to
 * the page does), named per session so two sessions in one browser coexist, and gone when the session expires.
 */
export function setBindingCookie(
  c: Context,
  config: Config,
  binding: { sessionId: string; cookieValue: string; expiresAt: number },
  now: number,
): void {
  const cookie = { name: cookieName(binding.sessionId), path: COOKIE_PATH, value: binding.cookieValue, expiresAt: binding.expiresAt };
  setBrowserCookie(c, config, cookie, now);
}
