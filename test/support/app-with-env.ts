/**
 * The Worker's Hono app run with another env (another key ring, …), for tests that need the Worker configured
 * differently from the test bindings: `apiClient(appWithEnv(env))` calls its API, `new Browser(appWithEnv(env))`
 * (./browser.ts) goes through its connect flow. The user's Durable Object still runs with the bindings' env: it is a
 * separate object with its own env, as in production (where both share one configuration); `useEnvInVault` gives
 * it another one.
 */
import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { onTestFinished } from "vitest";
import { createApp } from "../../src/app";
import { userVault, type UserVault } from "../../src/vault/user-vault";
import type { SendToService } from "./api-client";
import { WORKER_ORIGIN } from "./worker";

/** Calls the app with `env` as a client on the network would, waiting for its after-response work (audit). */
export function appWithEnv(env: Env): SendToService {
  const app = createApp();
  return async (path, init = {}) => {
    const context = createExecutionContext();
    const response = await app.fetch(new Request(`${WORKER_ORIGIN}${path}`, init), env, context);
    await waitOnExecutionContext(context);
    return response;
  };
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
