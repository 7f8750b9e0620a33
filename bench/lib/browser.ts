/**
 * A minimal browser for the connect-flow scenario: a cookie jar per origin (name=value, path-scoped) and manual
 * redirect following over node:http. Every host here is loopback; `localhost` is dialled as 127.0.0.1 (wrangler dev
 * listens there) while the URL, Host header and cookie origin keep the name the service and the provider use.
 */
import { request, type IncomingHttpHeaders } from "node:http";

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  url: URL;
}

interface Cookie {
  origin: string;
  path: string;
  name: string;
  value: string;
}

export function httpRequest(url: URL, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname === "localhost" ? "127.0.0.1" : url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: options.method ?? "GET",
        headers: {
          host: url.host,
          ...options.headers,
          ...(options.body === undefined ? {} : { "content-length": String(Buffer.byteLength(options.body)) }),
        },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8"), url }),
        );
        res.on("error", reject);
      },
    );
    req.setTimeout(120_000, () => req.destroy(new Error(`timeout: ${url.origin}${url.pathname}`)));
    req.on("error", reject);
    req.end(options.body);
  });
}

export class Browser {
  readonly #cookies = new Map<string, Cookie>();
  /** Extra headers sent to every request (e.g. a per-browser `CF-Connecting-IP`). */
  constructor(private readonly extraHeaders: Record<string, string> = {}) {}

  #store(url: URL, setCookie: string[] | undefined): void {
    for (const header of setCookie ?? []) {
      const [pair, ...attributes] = header.split(";");
      const eq = pair!.indexOf("=");
      if (eq <= 0) continue;
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      let path = "/";
      let expired = false;
      for (const attribute of attributes) {
        const [key, val] = attribute.split("=").map((part) => part.trim());
        if (key?.toLowerCase() === "path" && val) path = val;
        if (key?.toLowerCase() === "max-age" && Number(val) <= 0) expired = true;
        if (key?.toLowerCase() === "expires" && val && Date.parse(val) <= Date.now()) expired = true;
      }
      const key = `${url.origin} ${path} ${name}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, { origin: url.origin, path, name, value });
    }
  }

  #cookieHeader(url: URL): string | undefined {
    const applicable = [...this.#cookies.values()].filter(
      (cookie) =>
        cookie.origin === url.origin &&
        (url.pathname === cookie.path || url.pathname.startsWith(cookie.path.endsWith("/") ? cookie.path : `${cookie.path}/`)),
    );
    return applicable.length === 0 ? undefined : applicable.map((cookie) => `${cookie.name}=${cookie.value}`).join("; ");
  }

  /** One GET with the jar's cookies; stores what it sets. */
  async get(url: URL): Promise<Reply> {
    const cookie = this.#cookieHeader(url);
    const reply = await httpRequest(url, {
      headers: { ...this.extraHeaders, ...(cookie ? { cookie } : {}), accept: "text/html,application/json" },
    });
    const setCookie = reply.headers["set-cookie"];
    this.#store(url, Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : undefined);
    return reply;
  }

  /** Follows redirects from `url` until a non-redirect or until `stopBefore(next)` is true (then `stoppedAt` is set). */
  async follow(url: URL, stopBefore: (next: URL) => boolean, maxRedirects = 10): Promise<{ reply: Reply; stoppedAt: URL | null }> {
    let current = url;
    for (let hop = 0; hop <= maxRedirects; hop++) {
      const reply = await this.get(current);
      const location = reply.headers.location;
      if (reply.status < 300 || reply.status > 399 || !location) return { reply, stoppedAt: null };
      const next = new URL(location, current);
      if (stopBefore(next)) return { reply, stoppedAt: next };
      current = next;
    }
    throw new Error(`more than ${maxRedirects} redirects from ${url.origin}${url.pathname}`);
  }
}
