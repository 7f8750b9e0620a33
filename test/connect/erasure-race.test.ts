/**
 * Erasure against connect flows in progress: an authorization begun before `DELETE /v1/me` never stores a
 * connection afterwards, whether its callback arrives later, is exchanging its code while the erasure runs, or is
 * saving its connection when the erasure arrives; an authorization begun after the erasure connects as usual.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { pendingAuthorizationKey } from "../../src/storage/pending-authorizations";
import { UserVault } from "../../src/vault/user-vault";
import { useEnvInVault } from "../support/app-with-env";
import { Browser } from "../support/browser";
import { authorizeInBrowser, connectAccount } from "../support/connect-flow";
import { failingDatabase } from "../support/failing-db";
import { newMockId } from "../support/mock-control";
import { expectProblem } from "../support/problems";
import { mockProvider, service } from "../support/toolkit";
import { newUserId } from "../support/users";

function eraseMe(userId: string): Promise<Response> {
  return service.call(userId, "/v1/me", { method: "DELETE" });
}

async function connectionCount(userId: string): Promise<number> {
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM connections WHERE user_id = ?").bind(userId).first<{ n: number }>();
  return row!.n;
}

/** A Google authorization of `userId` at the mock, stopped where the provider redirects back to the callback. */
async function authorizedUpToCallback(userId: string) {
  const flow = newMockId("erasure-race");
  const { authorization_url: startUrl } = await service.beginConnect(userId, "google");
  const account = JSON.stringify({ sub: `sub-${flow}` });
  const browser = new Browser();
  const { callbackUrl } = await authorizeInBrowser(browser, startUrl, { mock_flow: flow, mock_account: account });
  const stateKey = await pendingAuthorizationKey(new URL(startUrl).searchParams.get("state")!);
  return { flow, startUrl, browser, callbackUrl, stateKey };
}

/*
 * The races below are staged from inside the step that is under way (the code exchange, the save in the vault):
 * that step itself starts the erasure and waits for it, so no timing decides the order. workerd lets a request's
 * I/O (its response body) be used only in the context that made it, which this staging respects too.
 */

/**
 * Runs `meanwhile` when the Worker sends the authorization-code exchange to the token endpoint, and sends the
 * exchange only after it: a provider answering slowly while `meanwhile` happens. The exchange goes without its
 * timeout signal, since what is under test is what happens meanwhile, not the client's timeout.
 */
function duringCodeExchange(meanwhile: () => Promise<void>): void {
  const realFetch = globalThis.fetch.bind(globalThis);
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const isCodeExchange =
      url.pathname.endsWith("/google/token") &&
      typeof init?.body === "string" &&
      new URLSearchParams(init.body).get("grant_type") === "authorization_code";
    if (!isCodeExchange) return realFetch(input, init);
    await meanwhile();
    return realFetch(input, { ...init, signal: null });
  });
  onTestFinished(() => spy.mockRestore());
}

/** A D1 binding on which inserting a connection row first runs `before` (a save under way inside the user's vault). */
function databaseInsertingConnectionsAfter(before: () => Promise<void>): D1Database {
  return failingDatabase(env.DB, {
    prepare: (sql) => {
      const statement = env.DB.prepare(String(sql));
      if (!String(sql).startsWith('insert into "connections"')) return statement;
      const after = async <T>(run: () => Promise<T>): Promise<T> => {
        await before();
        return run();
      };
      return {
        bind: (...params: unknown[]) => {
          const bound = statement.bind(...params);
          return {
            all: () => after(() => bound.all()),
            raw: (options?: { columnNames?: boolean }) => after(() => bound.raw(options as { columnNames: true })),
            run: () => after(() => bound.run()),
            first: (column?: string) => after(() => (column === undefined ? bound.first() : bound.first(column))),
          };
        },
      };
    },
  });
}

/** Resolves once the user's vault has been asked to erase `userId` (the call is under way, not finished). */
function erasureArrives(userId: string): Promise<void> {
  const arrived = Promise.withResolvers<void>();
  const original = UserVault.prototype.erase;
  const spy = vi.spyOn(UserVault.prototype, "erase").mockImplementation(function (this: UserVault, request) {
    const result = original.call(this, request);
    if (request.userId === userId) arrived.resolve();
    return result;
  });
  onTestFinished(() => spy.mockRestore());
  return arrived.promise;
}

describe("an authorization begun before DELETE /v1/me", () => {
  it("is refused at its callback as invalid-state, even where KV still holds its state, and nothing is exchanged or stored", async () => {
    const user = newUserId("race-callback-after");
    const { flow, browser, callbackUrl, stateKey } = await authorizedUpToCallback(user);
    const record = await env.AUTH_STATE.get(stateKey);
    expect(record).not.toBeNull();

    expect((await eraseMe(user)).status).toBe(204);
    // KV is eventually consistent: another location may still read the state the erasure deleted.
    await env.AUTH_STATE.put(stateKey, record!);
    const callback = await browser.request(callbackUrl);

    const problem = await expectProblem(callback, 400, "invalid-state");
    expect(problem.reason).toBe("user_erased");
    expect(await connectionCount(user)).toBe(0);
    expect((await mockProvider.flowState(flow)).token_requests).toBe(0);
  });

  it("whose callback is exchanging its code while the erasure runs stores nothing and revokes the new tokens", async () => {
    const user = newUserId("race-exchanging");
    const { flow, browser, callbackUrl } = await authorizedUpToCallback(user);
    let erasureStatus: number | null = null;
    duringCodeExchange(async () => {
      erasureStatus = (await eraseMe(user)).status;
    });

    const callback = await browser.request(callbackUrl);

    expect(erasureStatus).toBe(204);
    const problem = await expectProblem(callback, 400, "invalid-state");
    expect(problem.reason).toBe("user_erased");
    expect(await connectionCount(user)).toBe(0);
    const state = await mockProvider.flowState(flow);
    expect(state.refresh_tokens).toHaveLength(1);
    expect(state.revocations).toBe(1);
    expect([...state.refresh_tokens, ...state.access_tokens].every((token) => !token.alive)).toBe(true);
  });

  it("whose connection is being saved when the erasure arrives is removed by the erasure, which answers after the save", async () => {
    const user = newUserId("race-saving");
    const { flow, browser, callbackUrl } = await authorizedUpToCallback(user);
    const arrived = erasureArrives(user);
    let erasure: Promise<number> | null = null;
    await useEnvInVault(user, {
      ...env,
      DB: databaseInsertingConnectionsAfter(async () => {
        erasure ??= eraseMe(user).then((response) => response.status);
        await arrived;
      }),
    } as Env);

    const callback = await browser.request(callbackUrl);

    expect(callback.status).toBe(200);
    expect(erasure).not.toBeNull();
    expect(await erasure).toBe(204);
    expect(await connectionCount(user)).toBe(0);
    expect((await mockProvider.flowState(flow)).revocations).toBe(1);
  });
});

describe("after DELETE /v1/me", () => {
  it("an authorization begun after the erasure connects as usual", async () => {
    const user = newUserId("race-after");
    expect((await eraseMe(user)).status).toBe(204);

    const callback = await connectAccount(service, new Browser(), user, "google", {
      providerParams: { mock_flow: newMockId("race-after") },
    });

    expect(callback.status).toBe(200);
    expect(await connectionCount(user)).toBe(1);
  });

  it("the start URLs of the user's pending authorizations answer invalid-state, and another user's still works", async () => {
    const user = newUserId("race-start-urls");
    const bystander = newUserId("race-bystander");
    const startUrls = [
      (await service.beginConnect(user, "google")).authorization_url,
      (await service.beginConnect(user, "notion")).authorization_url,
    ];
    const { authorization_url: bystanderStart } = await service.beginConnect(bystander, "google");

    expect((await eraseMe(user)).status).toBe(204);

    for (const startUrl of startUrls) await expectProblem(await new Browser().request(startUrl), 400, "invalid-state");
    expect((await new Browser().request(bystanderStart)).status).toBe(302);
  });
});
