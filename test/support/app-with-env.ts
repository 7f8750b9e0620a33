/**
 * The Worker's Hono app run with another env (another key ring, …), and the connect flow driven through it, for tests
 * that need the Worker configured differently from the test bindings. The user's Durable Object still runs with the
 * bindings' env: it is a separate object with its own env, as in production (where both share one configuration);
 * `useEnvInVault` gives it another one.
 */
import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, onTestFinished } from "vitest";
import { createApp } from "../../src/app";
import { userVault, type UserVault } from "../../src/vault/user-vault";
import { Browser } from "./browser";
import { authHeaders } from "./caller-token";
import { WORKER_ORIGIN } from "./worker";

export type AppFetch = (path: string, init?: RequestInit) => Promise<Response>;

/** Calls the app with `env` as a client on the network would, waiting for its after-response work (audit). */
export function appWithEnv(env: Env): AppFetch {
  const app = createApp();
  return async (path, init = {}) => {
    const context = createExecutionContext();
    const response = await app.fetch(new Request(`${WORKER_ORIGIN}${path}`, init), env, context);
    await waitOnExecutionContext(context);
    return response;
  };
}

/** A browser whose requests to the Worker's origin go to `call` (the app with another env, or the Worker). */
export class AppBrowser extends Browser {
  constructor(private readonly call: AppFetch) {
    super();
  }

  protected override send(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.origin !== WORKER_ORIGIN) return super.send(request);
    return this.call(url.pathname + url.search, { headers: request.headers, redirect: "manual" });
  }
}

/** The whole connect flow of `userId` at `provider` through the app; returns the callback's response. */
export async function connectThroughApp(
  call: AppFetch,
  userId: string,
  provider: string,
  providerParams: Record<string, string> = {},
): Promise<Response> {
  const begun = await call(`/v1/connect/${provider}`, {
    method: "POST",
    headers: { ...(await authHeaders(userId)), "Content-Type": "application/json" },
    body: "{}",
  });
  expect(begun.status).toBe(201);
  const { authorization_url: startUrl } = (await begun.json()) as { authorization_url: string };
  const browser = new AppBrowser(call);
  const start = await browser.follow(startUrl, { stopBefore: () => true });
  const providerUrl = new URL(start.stoppedAt!);
  for (const [name, value] of Object.entries(providerParams)) providerUrl.searchParams.set(name, value);
  const atProvider = await browser.follow(providerUrl, {
    stopBefore: (next) => next.origin === WORKER_ORIGIN && next.pathname.endsWith("/callback"),
  });
  if (!atProvider.stoppedAt) throw new Error(`the provider did not redirect back: ${atProvider.response.status}`);
  return browser.request(atProvider.stoppedAt);
}

/**
 * Runs the user's Durable Object with `vaultEnv` (another provider list, a failing D1), as the Worker and the object
 * share one configuration in production, until the test ends or the returned function restores the bindings' env.
 */
export async function useEnvInVault(userId: string, vaultEnv: Env): Promise<() => void> {
  return runInDurableObject(userVault(env, userId), (instance: UserVault) => {
    const object = instance as unknown as { env: Env };
    const original = object.env;
    object.env = vaultEnv;
    const restore = () => {
      object.env = original;
    };
    onTestFinished(restore);
    return restore;
  });
}
