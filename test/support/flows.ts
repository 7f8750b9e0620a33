/** Drives the connect flow the way an application and a browser would, for tests in workerd. */
import { expect } from "vitest";
import { Browser, rewriteQuery } from "./browser";
import { authHeaders } from "./caller-token";
import { callWorker } from "./worker";

export interface ConnectOptions {
  scopes?: string[];
  return_to?: string;
}

/** `POST /v1/connect/{provider}` as `userId`; returns the service's start URL. */
export async function requestAuthorizationUrl(userId: string, provider: string, options: ConnectOptions = {}): Promise<string> {
  const response = await callWorker(`/v1/connect/${provider}`, {
    method: "POST",
    headers: { ...(await authHeaders(userId)), "Content-Type": "application/json" },
    body: JSON.stringify(options),
  });
  expect(response.status).toBe(201);
  const body = (await response.json()) as { authorization_url: string; expires_at: string };
  return body.authorization_url;
}

export interface BrowserAtCallback {
  browser: Browser;
  /** The provider's redirect to our callback, not yet requested. */
  callbackUrl: URL;
  /** The provider authorization URL the start endpoint redirected to. */
  providerUrl: URL;
}

/**
 * Opens the start URL in a fresh browser, adds `providerParams` to the provider's authorization URL (a login hint,
 * a mock provider's behaviour), and follows the provider until it redirects back to our callback.
 */
export async function authorizeInBrowser(startUrl: string, providerParams: Record<string, string> = {}): Promise<BrowserAtCallback> {
  const browser = new Browser();
  const start = await browser.follow(startUrl, { stopBefore: () => true });
  expect(start.response.status).toBe(302);
  const providerUrl = start.stoppedAt!;
  const atProvider = await browser.follow(rewriteQuery(providerUrl, providerParams), {
    stopBefore: (next) => next.pathname.endsWith("/callback") && next.origin === "http://localhost:8787",
  });
  if (!atProvider.stoppedAt)
    throw new Error(`the provider did not redirect back: ${atProvider.response.status} ${atProvider.chain.join(" -> ")}`);
  return { browser, callbackUrl: atProvider.stoppedAt, providerUrl };
}

/** The whole flow for `userId`; returns the callback's response. */
export async function connectAccount(
  userId: string,
  provider: string,
  options: ConnectOptions & { providerParams?: Record<string, string> } = {},
): Promise<Response> {
  const { providerParams, ...connect } = options;
  const startUrl = await requestAuthorizationUrl(userId, provider, connect);
  const { browser, callbackUrl } = await authorizeInBrowser(startUrl, providerParams);
  return browser.request(callbackUrl);
}
