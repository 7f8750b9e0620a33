/**
 * The cookie browser of ./cookie-browser for flow tests in workerd: requests to the Worker's own origin
 * (`WORKER_ORIGIN`, the tests' `PUBLIC_BASE_URL`) go to the Worker under test through `exports.default.fetch`;
 * every other origin (the mock providers and the OIDC server on 127.0.0.1) goes to the network.
 */
import { Browser as NetworkBrowser } from "./cookie-browser";
import { WORKER_ORIGIN, worker } from "./worker";

export { CookieJar, rewriteQuery, type FollowOptions, type FollowResult } from "./cookie-browser";

export class Browser extends NetworkBrowser {
  protected override send(request: Request): Promise<Response> {
    return new URL(request.url).origin === WORKER_ORIGIN ? worker().fetch(request) : super.send(request);
  }
}
