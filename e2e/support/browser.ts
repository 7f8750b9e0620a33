/**
 * A small browser over real HTTP: a cookie jar per origin and manual redirect following, so the service's start and
 * callback endpoints, the oidc-provider's interaction cookies and the mock providers all see what a browser sends.
 * Cookies are kept per origin and path (RFC 6265 §5.1.4 path matching, `Max-Age` expiry); `Secure`, `SameSite` and
 * `Domain` do not matter here: every request is a top-level GET to the cookie's own origin.
 */

interface StoredCookie {
  path: string;
  name: string;
  value: string;
  expiresAt: number | null;
}

export interface FollowResult {
  /** The last response: a non-redirect, or the redirect whose target matched `stopBefore`. */
  response: Response;
  /** Every URL requested, in order. */
  chain: string[];
  /** The redirect target that matched `stopBefore` (not requested), or null. */
  stoppedAt: URL | null;
}

const MAX_REDIRECTS = 12;

export class Browser {
  readonly #cookies = new Map<string, StoredCookie[]>();
  /** Every `Set-Cookie` value received, by origin, for assertions on attributes. */
  readonly setCookies: { url: string; header: string }[] = [];

  /** One GET with this browser's cookies; stores the cookies it sets; never follows a redirect. */
  async request(url: URL | string): Promise<Response> {
    const target = new URL(url);
    const cookie = this.cookieHeader(target);
    const response = await fetch(target, { redirect: "manual", headers: cookie ? { cookie } : {} });
    for (const header of response.headers.getSetCookie()) {
      this.setCookies.push({ url: target.href, header });
      this.store(target, header);
    }
    return response;
  }

  /** Navigates to `url` and follows redirects until a non-redirect, or until `stopBefore` matches a target. */
  async follow(url: URL | string, stopBefore?: (next: URL) => boolean): Promise<FollowResult> {
    const chain: string[] = [];
    let current = new URL(url);
    for (;;) {
      chain.push(current.href);
      const response = await this.request(current);
      const location = response.headers.get("location");
      if (response.status < 300 || response.status > 399 || location === null) return { response, chain, stoppedAt: null };
      const next = new URL(location, current);
      if (stopBefore?.(next)) return { response, chain, stoppedAt: next };
      if (chain.length > MAX_REDIRECTS) throw new Error(`too many redirects:\n${[...chain, next.href].join("\n")}`);
      await response.body?.cancel();
      current = next;
    }
  }

  cookieHeader(url: URL): string | undefined {
    const now = Date.now();
    const cookies = (this.#cookies.get(url.origin) ?? [])
      .filter((cookie) => (cookie.expiresAt === null || cookie.expiresAt > now) && pathMatches(url.pathname, cookie.path))
      .sort((a, b) => b.path.length - a.path.length);
    return cookies.length === 0 ? undefined : cookies.map((cookie) => `${cookie.name}=${cookie.value}`).join("; ");
  }

  private store(url: URL, header: string): void {
    const [pair = "", ...attributes] = header.split(";");
    const separator = pair.indexOf("=");
    if (separator <= 0) return;
    const lastSlash = url.pathname.lastIndexOf("/");
    const cookie: StoredCookie = {
      path: lastSlash <= 0 ? "/" : url.pathname.slice(0, lastSlash),
      name: pair.slice(0, separator).trim(),
      value: pair.slice(separator + 1).trim(),
      expiresAt: null,
    };
    for (const attribute of attributes) {
      const [rawName = "", ...rawValue] = attribute.split("=");
      const name = rawName.trim().toLowerCase();
      const value = rawValue.join("=").trim();
      if (name === "path" && value.startsWith("/")) cookie.path = value;
      else if (name === "max-age" && /^-?\d+$/.test(value)) cookie.expiresAt = Date.now() + Number(value) * 1000;
      else if (name === "expires" && cookie.expiresAt === null && !Number.isNaN(Date.parse(value))) cookie.expiresAt = Date.parse(value);
    }
    const others = (this.#cookies.get(url.origin) ?? []).filter((stored) => stored.name !== cookie.name || stored.path !== cookie.path);
    this.#cookies.set(url.origin, [...others, cookie]);
  }
}

/** Returns `url` with `params` set (replacing existing values). */
export function withQuery(url: URL | string, params: Record<string, string>): URL {
  const rewritten = new URL(url);
  for (const [name, value] of Object.entries(params)) rewritten.searchParams.set(name, value);
  return rewritten;
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith("/") || requestPath.charAt(cookiePath.length) === "/";
}
