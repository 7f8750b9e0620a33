/**
 * The connect flow the way an application and a user's browser go through it, in workerd and in Node: the backend
 * asks for a start URL (./api-client.ts), the browser (./cookie-browser.ts or a subclass) opens it, passes the
 * provider's login and consent and comes back to the service's callback. The callback lives on the start URL's
 * origin (both are `PUBLIC_BASE_URL`), so no origin needs passing.
 */
import type { ApiClient, Caller, ConnectBody } from "./api-client";
import { rewriteQuery, type Browser } from "./cookie-browser";

export interface AtCallback {
  /** The response of the service's start URL (it sets the browser-binding cookie). */
  startResponse: Response;
  /** The provider authorization URL the start URL redirected to, before `providerParams`. */
  providerUrl: URL;
  /** The provider's redirect back to the service's callback, not requested yet. */
  callbackUrl: URL;
}

/**
 * Opens the start URL in `browser`, adds `providerParams` to the provider's authorization URL (a login hint, mock
 * provider steering) and follows the provider until it redirects back to the service's callback.
 */
export async function authorizeInBrowser(
  browser: Browser,
  startUrl: string,
  providerParams: Record<string, string> = {},
): Promise<AtCallback> {
  const start = await browser.follow(startUrl, { stopBefore: () => true });
  if (start.response.status !== 302 || !start.stoppedAt)
    throw new Error(`the start URL did not redirect to the provider: ${start.response.status} ${await start.response.text()}`);
  const serviceOrigin = new URL(startUrl).origin;
  const atProvider = await browser.follow(rewriteQuery(start.stoppedAt, providerParams), {
    stopBefore: (next) => next.origin === serviceOrigin && next.pathname.endsWith("/callback"),
  });
  if (!atProvider.stoppedAt)
    throw new Error(`the provider did not redirect back: ${atProvider.response.status} ${atProvider.chain.join(" -> ")}`);
  return { startResponse: start.response, providerUrl: start.stoppedAt, callbackUrl: atProvider.stoppedAt };
}

/**
 * `authorizeInBrowser`, then the service's callback in the same browser: the rest of a flow whose start URL the
 * service handed out (`POST /v1/connect/{provider}`, or an integration's activation).
 */
export async function finishInBrowser(
  browser: Browser,
  startUrl: string,
  providerParams: Record<string, string> = {},
): Promise<AtCallback & { callback: Response }> {
  const atCallback = await authorizeInBrowser(browser, startUrl, providerParams);
  return { ...atCallback, callback: await browser.request(atCallback.callbackUrl) };
}

export interface ConnectAccountOptions extends ConnectBody {
  /** Added to the provider's authorization URL. */
  providerParams?: Record<string, string>;
}

/** The whole flow of `caller` at `provider` in `browser`; returns the callback's response. */
export async function connectAccount(
  client: ApiClient,
  browser: Browser,
  caller: Caller,
  provider: string,
  options: ConnectAccountOptions = {},
): Promise<Response> {
  const { providerParams, ...body } = options;
  const { authorization_url } = await client.beginConnect(caller, provider, body);
  return (await finishInBrowser(browser, authorization_url, providerParams)).callback;
}
