import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { UserVault } from "../../src/vault/user-vault";
import { apiClient } from "../support/api-client";
import { appWithEnv, useEnvInVault } from "../support/app-with-env";
import { Browser } from "../support/browser";
import { finishInBrowser } from "../support/connect-flow";
import { databaseDown, databaseRefusingToDelete } from "../support/failing-db";
import { activateOk, allConsents, auditRowsOf, connectGoogle, integrations } from "../support/integration-helpers";
import { expectProblem } from "../support/problems";
import { failNextConnectionWrite, pendingWrites, vendOk } from "../support/refresh-fixtures";
import { service } from "../support/toolkit";
import { newUserId } from "../support/users";

const CALENDAR = "https://www.googleapis.com/auth/calendar.events";

function eraseMe(userId: string): Promise<Response> {
  return service.call(userId, "/v1/me", { method: "DELETE" });
}

async function count(sql: string, userId: string): Promise<number> {
  const row = await env.DB.prepare(sql).bind(userId).first<{ n: number }>();
  return row!.n;
}

/** Every AUTH_STATE entry that belongs to `userId`. */
async function kvFlowsOf(userId: string): Promise<string[]> {
  const owned: string[] = [];
  let cursor: string | undefined;
  do {
    const page: KVNamespaceListResult<unknown> = await env.AUTH_STATE.list(cursor === undefined ? {} : { cursor });
    for (const key of page.keys) {
      const value = await env.AUTH_STATE.get(key.name);
      if (value !== null && value.includes(userId)) owned.push(key.name);
    }
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor !== undefined);
  return owned;
}

async function vaultKeys(userId: string): Promise<string[]> {
  return runInDurableObject(env.USER_VAULT.getByName(userId), async (_instance: UserVault, state) => [
    ...(await state.storage.list()).keys(),
  ]);
}

afterEach(() => {
  vi.restoreAllMocks();
});

/** The start URL answers `invalid-state`: the pending authorization is gone. */
async function expectStartUrlRefused(startUrl: string): Promise<void> {
  await expectProblem(await new Browser().request(startUrl), 400, "invalid-state");
}

/** A user with two Google accounts, an active and a pending integration, and a write-ahead copy in the vault. */
async function userWithEverything(label: string): Promise<{ user: string; connections: string[] }> {
  const user = newUserId(label);
  const first = await connectGoogle(user, { account: `a-${crypto.randomUUID()}`, scopes: [CALENDAR] });
  const second = await connectGoogle(user, { account: `b-${crypto.randomUUID()}` });
  await activateOk(user, "google-calendar", { connection_id: first });
  await activateOk(user, "outlook-mail");
  // The D1 write of a refresh fails once: the refreshed tokens stay as a pending write in the user's Durable Object.
  await failNextConnectionWrite(user);
  await service.vend(user, second, { force_refresh: true });
  return { user, connections: [first, second] };
}

describe("DELETE /v1/me", () => {
  it("answers 204 and removes every connection row of the caller", async () => {
    const { user } = await userWithEverything("erase-rows");
    expect(await count("SELECT COUNT(*) AS n FROM connections WHERE user_id = ?", user)).toBe(2);
    expect((await eraseMe(user)).status).toBe(204);
    expect(await count("SELECT COUNT(*) AS n FROM connections WHERE user_id = ?", user)).toBe(0);
    expect(await service.json(user, "/v1/connections")).toEqual({ connections: [] });
  });

  it("leaves no pending-write copy of a token in the user's Durable Object", async () => {
    const { user } = await userWithEverything("erase-vault");
    expect((await pendingWrites(user)).size).toBe(1);
    expect((await eraseMe(user)).status).toBe(204);
    expect((await vaultKeys(user)).filter((key) => key.startsWith("pending-write:"))).toEqual([]);
  });

  it("leaves no authorization state of the user's flows in KV", async () => {
    const { user } = await userWithEverything("erase-kv");
    expect((await eraseMe(user)).status).toBe(204);
    expect(await kvFlowsOf(user)).toEqual([]);
  });

  it("ends a flow started before the erasure: its callback is refused and stores nothing", async () => {
    const user = newUserId("erase-flow");
    const { authorization_url: startUrl } = await service.beginConnect(user, "google");
    expect((await eraseMe(user)).status).toBe(204);
    const { callback } = await finishInBrowser(new Browser(), startUrl).catch(() => ({ callback: null }));
    if (callback) await expectProblem(callback, 400, "invalid-state");
    expect(await count("SELECT COUNT(*) AS n FROM connections WHERE user_id = ?", user)).toBe(0);
  });

  it("removes every integration activation, including one still waiting for its connection", async () => {
    const { user } = await userWithEverything("erase-activations");
    expect(await count("SELECT COUNT(*) AS n FROM integration_activations WHERE user_id = ?", user)).toBe(2);
    expect((await eraseMe(user)).status).toBe(204);
    expect(await count("SELECT COUNT(*) AS n FROM integration_activations WHERE user_id = ?", user)).toBe(0);
    const statuses = [...(await integrations(user)).values()].map((entry) => entry.status);
    expect(new Set(statuses)).toEqual(new Set(["inactive"]));
  });

  it("revokes the grants at the provider", async () => {
    const { user, connections } = await userWithEverything("erase-revoke");
    expect((await eraseMe(user)).status).toBe(204);
    const revoked = (await auditRowsOf(user)).filter((row) => row.action === "token.revoked" && row.outcome === "success");
    expect(revoked.map((row) => row.connection_id).sort()).toEqual([...connections].sort());
  });

  it("keeps the consent and audit history and adds the withdrawals and the erasure to it", async () => {
    const { user, connections } = await userWithEverything("erase-history");
    const consentsBefore = await allConsents(user);
    const auditBefore = await auditRowsOf(user);
    expect((await eraseMe(user)).status).toBe(204);

    const consentsAfter = await allConsents(user);
    expect(consentsAfter.map((consent) => consent.id)).toEqual(expect.arrayContaining(consentsBefore.map((consent) => consent.id)));
    const withdrawn = consentsAfter.filter((consent) => consent.kind === "withdrawal").map((consent) => consent.connection_id);
    expect(withdrawn.sort()).toEqual([...connections].sort());
    const auditAfter = await auditRowsOf(user);
    expect(auditAfter.map((row) => row.id)).toEqual(expect.arrayContaining(auditBefore.map((row) => row.id)));
    expect(auditAfter.find((row) => row.action === "user.erased")).toMatchObject({ outcome: "success" });
  });

  it("leaves another user's connections, activations and history untouched", async () => {
    const { user } = await userWithEverything("erase-me");
    const bystander = newUserId("erase-bystander");
    const connectionId = await connectGoogle(bystander, { scopes: [CALENDAR] });
    await activateOk(bystander, "google-calendar");
    const consentsBefore = await allConsents(bystander);

    expect((await eraseMe(user)).status).toBe(204);

    expect((await service.call(bystander, `/v1/connections/${connectionId}`)).status).toBe(200);
    await vendOk({ userId: bystander, connectionId, flow: "" });
    expect((await integrations(bystander)).get("google-calendar")).toMatchObject({ status: "active", connection_id: connectionId });
    expect(await allConsents(bystander)).toEqual(consentsBefore);
  });

  it("answers 204 for a caller with nothing to erase", async () => {
    const user = newUserId("erase-nothing");
    expect((await eraseMe(user)).status).toBe(204);
    expect((await auditRowsOf(user)).find((row) => row.action === "user.erased")).toBeDefined();
  });
});

describe("DELETE /v1/me when D1 fails", () => {
  it("answers 503 with Retry-After while D1 refuses to remove one connection, removes the others, and finishes when repeated", async () => {
    const { user, connections } = await userWithEverything("erase-one-fails");
    const [refused, other] = connections as [string, string];
    const { authorization_url: startUrl } = await service.beginConnect(user, "google");
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const restore = await useEnvInVault(user, { ...env, DB: databaseRefusingToDelete(env.DB, refused) } as Env);

    const response = await eraseMe(user);

    await expectProblem(response, 503, "service-unavailable");
    expect(response.headers.get("Retry-After")).toBe("30");
    const remaining = await env.DB.prepare("SELECT id FROM connections WHERE user_id = ?").bind(user).all<{ id: string }>();
    expect(remaining.results.map((row) => row.id)).toEqual([refused]);
    expect(await count("SELECT COUNT(*) AS n FROM integration_activations WHERE user_id = ?", user)).toBe(0);
    await expectStartUrlRefused(startUrl);
    const audit = await auditRowsOf(user);
    expect(audit).toContainEqual(expect.objectContaining({ action: "connection.removed", outcome: "failure", connection_id: refused }));
    expect(audit).toContainEqual(expect.objectContaining({ action: "connection.removed", outcome: "success", connection_id: other }));
    expect(audit.find((row) => row.action === "user.erased")).toMatchObject({ outcome: "failure" });

    restore();
    expect((await eraseMe(user)).status).toBe(204);
    expect(await count("SELECT COUNT(*) AS n FROM connections WHERE user_id = ?", user)).toBe(0);
  });

  it("answers 503 with Retry-After while D1 is down, still ends the pending authorizations, and erases everything when repeated", async () => {
    const { user } = await userWithEverything("erase-d1-down");
    const { authorization_url: startUrl } = await service.beginConnect(user, "google");
    const error = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const down = { ...env, DB: databaseDown(env.DB) } as Env;
    const restore = await useEnvInVault(user, down);

    const response = await apiClient(appWithEnv(down)).call(user, "/v1/me", { method: "DELETE" });

    await expectProblem(response, 503, "service-unavailable");
    expect(response.headers.get("Retry-After")).toBe("30");
    await expectStartUrlRefused(startUrl);
    expect(await count("SELECT COUNT(*) AS n FROM connections WHERE user_id = ?", user)).toBe(2);
    expect(JSON.stringify(error.mock.calls)).not.toMatch(/ya29|1\/\/mock/);

    restore();
    expect((await eraseMe(user)).status).toBe(204);
    expect(await count("SELECT COUNT(*) AS n FROM connections WHERE user_id = ?", user)).toBe(0);
    expect(await count("SELECT COUNT(*) AS n FROM integration_activations WHERE user_id = ?", user)).toBe(0);
    expect((await pendingWrites(user)).size).toBe(0);
  });

  it("answers 503 with Retry-After while KV refuses to delete the pending authorizations, still removes every connection, and finishes when repeated", async () => {
    const { user } = await userWithEverything("erase-kv-down");
    const { authorization_url: startUrl } = await service.beginConnect(user, "google");
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    // The vault only ever deletes from KV (it finds the records through its own index, never a listing).
    const kvDown = { ...env.AUTH_STATE, delete: () => Promise.reject(new Error("KV unavailable")) } as unknown as KVNamespace;
    const restore = await useEnvInVault(user, { ...env, AUTH_STATE: kvDown } as Env);

    const response = await eraseMe(user);

    await expectProblem(response, 503, "service-unavailable");
    expect(await count("SELECT COUNT(*) AS n FROM connections WHERE user_id = ?", user)).toBe(0);

    restore();
    expect((await eraseMe(user)).status).toBe(204);
    await expectStartUrlRefused(startUrl);
  });
});
