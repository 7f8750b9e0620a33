/** What the global set-up hands to the test files, and the timing choices both sides rely on. */

/** Access-token lifetime at the local `oidc-provider`: short, so a vend after a real expiry refreshes. */
export const ACCESS_TOKEN_TTL_SECONDS = 15;
/**
 * `UPSTREAM_TIMEOUT_MS` of the Worker (the production default). Not shorter: under `wrangler dev` the Worker, the
 * Durable Object and local D1 share one workerd process, and during the 200-vend burst on a busy 2-core machine the
 * one refresh's response waited several seconds for the event loop; at 1.5 s it timed out and all 200 callers got
 * 503. The fault cases that wait for it run concurrently, so it costs little wall time.
 */
export const UPSTREAM_TIMEOUT_MS = 10_000;
/** A scripted `delay` comfortably beyond the timeout (the mock's default). */
export const SLOW_RESPONSE_MS = 15_000;

export interface E2eEndpoints {
  /** `http://127.0.0.1:{port}` of `wrangler dev`, also the Worker's `PUBLIC_BASE_URL`. */
  serviceOrigin: string;
  mockProviderOrigin: string;
  oidcIssuer: string;
  /** An application's frontend, listed in CORS_ORIGINS and RETURN_TO_ORIGINS: the connect page's `opener_origin`. */
  appOrigin: string;
  /** A site the service knows nothing of. */
  otherSiteOrigin: string;
}

declare module "vitest" {
  interface ProvidedContext {
    e2e: E2eEndpoints;
  }
}
