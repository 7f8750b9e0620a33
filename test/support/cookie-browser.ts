/**
 * A tiny browser: a cookie jar and manual redirect following over the global `fetch`. It runs in Node (the e2e
 * suite, over real HTTP) and in workerd, where test/support/browser.ts sends the Worker's own origin to the Worker
 * under test instead of the network.
 *
 *   const browser = new Browser();
 *   const { stoppedAt } = await browser.follow(rewriteQuery(authorizationUrl, { login_hint: "t-123" }), {
 *     stopBefore: (next) => next.pathname.endsWith("/callback"),
 *   });
 *   const { response } = await browser.follow(rewriteQuery(stoppedAt!, { state: "forged" }));
 *
 * The bench passes a `transport` over node:http (./node-http.ts) and per-browser `headers` (its own address).
 */
/** One stored cookie; the jar keys it by origin, path and name. */
interface StoredCookie {
  origin: string;
  path: string;
  name: string;
  value: string;
  /** Epoch milliseconds, `null` for a session cookie. */
  expiresAt: number | null;
}

/**
 * Cookies per origin and path (RFC 6265 §5.1.4 path matching, `Max-Age`/`Expires` expiry and deletion). `Domain`,
 * `Secure`, `HttpOnly` and `SameSite` are ignored: every request here is a top-level navigation to a host-only
 * cookie's own origin, where a browser would send it anyway.
 */
export class CookieJar {
  readonly #cookies = new Map<string, StoredCookie>();

  /** Applies the `Set-Cookie` header values of a response to `url`. */
  store(url: URL, setCookieHeaders: readonly string[]): void {
    for (const header of setCookieHeaders) {
      const cookie = parseSetCookie(url, header);
      if (!cookie) continue;
      const key = `${cookie.origin} ${cookie.path} ${cookie.name}`;
      if (cookie.expiresAt !== null && cookie.expiresAt <= Date.now()) this.#cookies.delete(key);
      else this.#cookies.set(key, cookie);
    }
  }

  /** The `Cookie` header a browser would send to `url`, or `undefined` when no cookie applies. */
  header(url: URL): string | undefined {
    const now = Date.now();
    const applicable = [...this.#cookies.values()]
      .filter((cookie) => cookie.origin === url.origin && pathMatches(url.pathname, cookie.path))
      .filter((cookie) => cookie.expiresAt === null || cookie.expiresAt > now)
      // RFC 6265 §5.4: longer paths first.
      .sort((a, b) => b.path.length - a.path.length);
    return applicable.length === 0 ? undefined : applicable.map((c) => `${c.name}=${c.value}`).join("; ");
  }
}

export interface FollowOptions {
  /** Redirects to follow before giving up with an error; default 10. */
  maxRedirects?: number;
  /** Checked for every redirect target before it is requested; `true` leaves it unrequested in `stoppedAt`. */
  stopBefore?: (next: URL) => boolean;
}

export interface FollowResult {
  /** The last response received: a non-redirect, or the redirect whose target matched `stopBefore`. */
  response: Response;
  /** Every URL requested, in order. */
  chain: string[];
  /** The redirect target that matched `stopBefore`, or `null` when the chain ended on its own. */
  stoppedAt: URL | null;
}

const DEFAULT_MAX_REDIRECTS = 10;

/** Sends one request and resolves with its response, redirects unfollowed. */
export type Transport = (request: Request) => Promise<Response>;

export interface BrowserOptions {
  /** Where requests go instead of the global `fetch`. */
  transport?: Transport;
  /** Sent with every request, e.g. a `CF-Connecting-IP` of this browser's own. */
  headers?: Record<string, string>;
}

export class Browser {
  readonly cookies = new CookieJar();
  readonly #options: BrowserOptions;

  constructor(options: BrowserOptions = {}) {
    this.#options = options;
  }

  /** Navigates to `url` (GET) and follows redirects, carrying cookies, until a non-redirect or `stopBefore`. */
  async follow(url: string | URL, options: FollowOptions = {}): Promise<FollowResult> {
    const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
    const chain: string[] = [];
    let current = new URL(url);
    for (;;) {
      chain.push(current.href);
      const response = await this.request(current);
      const location = response.headers.get("location");
      if (response.status < 300 || response.status > 399 || location === null) {
        return { response, chain, stoppedAt: null };
      }
      const next = new URL(location, current);
      if (options.stopBefore?.(next)) return { response, chain, stoppedAt: next };
      if (chain.length > maxRedirects) {
        throw new Error(`more than ${maxRedirects} redirects:\n${[...chain, next.href].join("\n")}`);
      }
      // The body of a redirect is never read; cancelling it frees the connection.
      await response.body?.cancel();
      current = next;
    }
  }

  /** One GET with this browser's cookies, without following redirects; stores the cookies it sets. */
  request(url: URL | string): Promise<Response> {
    return this.#navigate(new URL(url), {});
  }

  /**
   * Submits a form (`POST`, urlencoded `fields`) as a page of the target's own origin would: with this browser's
   * cookies and `Origin` and `Sec-Fetch-Site: same-origin`, which `headers` may replace (a cross-site post), or remove
   * with an empty value. Redirects are not followed; the cookies the answer sets are stored.
   */
  submit(url: URL | string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    url = new URL(url);
    return this.#navigate(url, {
      method: "POST",
      body: new URLSearchParams(fields).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded", origin: url.origin, "sec-fetch-site": "same-origin", ...headers },
    });
  }

  async #navigate(url: URL, init: { method?: string; body?: string; headers?: Record<string, string> }): Promise<Response> {
    // What a browser sends for a top-level navigation (W3C Fetch Metadata); the start URL is spent only by those.
    // Node's global fetch replaces Sec-Fetch-Mode with "cors", so Node callers pass the node:http transport.
    const headers = new Headers({ "sec-fetch-mode": "navigate", "sec-fetch-dest": "document", ...this.#options.headers, ...init.headers });
    for (const [name, value] of [...headers]) if (value === "") headers.delete(name);
    const cookie = this.cookies.header(url);
    if (cookie !== undefined) headers.set("cookie", cookie);
    const response = await this.send(
      new Request(url, { method: init.method ?? "GET", body: init.body ?? null, headers, redirect: "manual" }),
    );
    this.cookies.store(url, response.headers.getSetCookie());
    return response;
  }

  /** Where a request goes: the transport, or else the network. */
  protected send(request: Request): Promise<Response> {
    return this.#options.transport ? this.#options.transport(request) : fetch(request);
  }
}

/** Returns `url` with `params` set (replacing existing values); a `null` value removes that parameter. */
export function rewriteQuery(url: string | URL, params: Record<string, string | null>): string {
  const rewritten = new URL(url);
  for (const [name, value] of Object.entries(params)) {
    if (value === null) rewritten.searchParams.delete(name);
    else rewritten.searchParams.set(name, value);
  }
  return rewritten.href;
}

function parseSetCookie(url: URL, header: string): StoredCookie | null {
  const [pair = "", ...attributes] = header.split(";");
  const separator = pair.indexOf("=");
  if (separator <= 0) return null;
  const cookie: StoredCookie = {
    origin: url.origin,
    path: defaultPath(url.pathname),
    name: pair.slice(0, separator).trim(),
    value: pair.slice(separator + 1).trim(),
    expiresAt: null,
  };
  let maxAgeSeen = false;
  for (const attribute of attributes) {
    const [rawName = "", ...rawValue] = attribute.split("=");
    const name = rawName.trim().toLowerCase();
    const value = rawValue.join("=").trim();
    if (name === "path" && value.startsWith("/")) cookie.path = value;
    else if (name === "max-age" && /^-?\d+$/.test(value)) {
      cookie.expiresAt = Date.now() + Number(value) * 1000;
      maxAgeSeen = true;
    } else if (name === "expires" && !maxAgeSeen) {
      // RFC 6265 §5.3 step 3: Max-Age wins over Expires.
      const expires = Date.parse(value);
      if (!Number.isNaN(expires)) cookie.expiresAt = expires;
    }
  }
  return cookie;
}

/** RFC 6265 §5.1.4: the directory of the request path. */
function defaultPath(requestPath: string): string {
  const lastSlash = requestPath.lastIndexOf("/");
  return lastSlash <= 0 ? "/" : requestPath.slice(0, lastSlash);
}

/** RFC 6265 §5.1.4 path-match. */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith("/") || requestPath.charAt(cookiePath.length) === "/";
}
