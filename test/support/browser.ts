/**
 * The cookie browser of ./cookie-browser for flow tests in workerd: requests to the Worker's own origin
 * (`WORKER_ORIGIN`, the tests' `PUBLIC_BASE_URL`) go to the Worker under test through its own fetch handler, or to
 * the app run with another env (./app-with-env.ts); every other origin (the mock providers and the OIDC server on
 * 127.0.0.1) goes to the network.
 */
import type { SendToService } from "./api-client";
import { Browser as NetworkBrowser, type BrowserOptions } from "./cookie-browser";
import { callWorker, WORKER_ORIGIN } from "./worker";

export { CookieJar, rewriteQuery, type FollowOptions, type FollowResult } from "./cookie-browser";

export class Browser extends NetworkBrowser {
  /**
   * `toService` receives the requests for the Worker's origin; default: the Worker under test. `headers` go with every
   * request (an `Accept-Language`, say).
   */
  constructor(
    private readonly toService: SendToService = callWorker,
    options: Pick<BrowserOptions, "headers"> = {},
  ) {
    super(options);
  }

  protected override async send(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.origin !== WORKER_ORIGIN) return super.send(request);
    // The bytes as sent: a form post is not text to re-encode (workerd warns when a form body is read as text).
    const body = request.method === "GET" || request.method === "HEAD" ? {} : { body: await request.arrayBuffer() };
    return this.toService(url.pathname + url.search, { method: request.method, headers: request.headers, redirect: "manual", ...body });
  }
}
