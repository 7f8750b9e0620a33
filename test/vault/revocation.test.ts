/**
 * Disconnecting: `DELETE /v1/connections/{id}` revokes the grant at the provider where it can (Google, Notion, a
 * standard OpenID provider's revocation_endpoint; Microsoft has none), then wipes the tokens everywhere, removes the
 * connection and records the withdrawal. `DELETE /v1/me` does that for every connection of the caller.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import type { PendingWrite } from "../../src/vault/pending-writes";
import { userVault, type UserVault } from "../../src/vault/user-vault";
import { updateConnection } from "../../src/storage/connections";
import { mockRequests, queueResponses, uniqueFlow } from "../providers/support";
import { LOCAL_OIDC_ID } from "../support/bindings";
import { authHeaders } from "../support/caller-token";
import { connectAccount } from "../support/flows";
import { mockFlow, readRow } from "../support/seed-connections";
import { callWorker } from "../support/worker";

function newUser(label: string): string {
  return `revoke-${label}-${crypto.randomUUID()}`;
}

/** Connects `provider` for `userId` through the whole flow; returns the connection id. */
async function connected(userId: string, provider: string, providerParams: Record<string, string>): Promise<string> {
  const response = await connectAccount(userId, provider, { providerParams });
  expect(response.status).toBe(200);
  return ((await response.json()) as { connection: { id: string } }).connection.id;
}

/** A connection at a mock provider, its flow named so the test can read what the mock received. */
async function connectedAtMock(userId: string, provider: "google" | "notion" | "microsoft"): Promise<{ id: string; flow: string }> {
  const flow = uniqueFlow(`revoke-${provider}`);
  // Notion and Microsoft accounts are keyed by workspace/user and tenant/object ids: make each test's account its own.
  const account = JSON.stringify({ sub: `sub-${flow}`, user_id: crypto.randomUUID(), oid: crypto.randomUUID() });
  return { id: await connected(userId, provider, { mock_flow: flow, mock_account: account }), flow };
}

async function disconnect(userId: string, connectionId: string): Promise<Response> {
  return callWorker(`/v1/connections/${connectionId}`, { method: "DELETE", headers: await authHeaders(userId) });
}

interface AuditRow {
  action: string;
  outcome: string;
  actor: string;
  detail: Record<string, unknown>;
}

async function auditOf(connectionId: string): Promise<AuditRow[]> {
  const { results } = await env.DB.prepare(
    "SELECT action, outcome, actor, detail FROM audit_events WHERE connection_id = ? ORDER BY at, id",
  )
    .bind(connectionId)
    .all<{ action: string; outcome: string; actor: string; detail: string }>();
  return results.map((row) => ({ ...row, detail: JSON.parse(row.detail) as Record<string, unknown> }));
}

async function consentKinds(connectionId: string): Promise<string[]> {
  const { results } = await env.DB.prepare("SELECT kind FROM consents WHERE connection_id = ? ORDER BY created_at, id")
    .bind(connectionId)
    .all<{ kind: string }>();
  return results.map((row) => row.kind);
}

async function pendingWriteKeys(userId: string): Promise<string[]> {
  return runInDurableObject(userVault(env, userId), async (_instance: UserVault, state) => [
    ...(await state.storage.list({ prefix: "pending-write:" })).keys(),
  ]);
}

describe("disconnecting a Google connection", () => {
  it("revokes the refresh token at Google's revocation endpoint, which ends the grant", async () => {
    const userId = newUser("google");
    const { id, flow } = await connectedAtMock(userId, "google");
    const refreshToken = (await mockFlow(flow)).refresh_tokens[0]!.token;

    expect((await disconnect(userId, id)).status).toBe(204);

    const revocations = await mockRequests({ flow, path: "/google/revoke" });
    expect(revocations).toHaveLength(1);
    expect(Object.fromEntries(new URLSearchParams(revocations[0]!.body))).toMatchObject({
      token: refreshToken,
      token_type_hint: "refresh_token",
    });
    const state = await mockFlow(flow);
    expect(state.revocations).toBe(1);
    expect(state.refresh_tokens.every((token) => !token.alive)).toBe(true);
    expect(await auditOf(id)).toEqual(
      expect.arrayContaining([expect.objectContaining({ action: "token.revoked", outcome: "success", detail: { credential: "refresh" } })]),
    );
  });

  it("wipes the tokens: the row is gone and no write-ahead copy stays in the user's Durable Object", async () => {
    const userId = newUser("wipe");
    const { id } = await connectedAtMock(userId, "google");
    // A refreshed token pair whose D1 write had failed, as the Durable Object keeps it until D1 has it.
    const row = (await readRow(id))!;
    const leftover: PendingWrite = {
      expectedVersion: row.version + 5,
      update: { refreshTokenCiphertext: row.refreshTokenCiphertext, accessTokenCiphertext: row.accessTokenCiphertext },
    };
    await runInDurableObject(userVault(env, userId), async (_instance: UserVault, state) =>
      state.storage.put(`pending-write:${id}`, leftover),
    );
    expect(await pendingWriteKeys(userId)).toEqual([`pending-write:${id}`]);

    expect((await disconnect(userId, id)).status).toBe(204);

    expect(await readRow(id)).toBeNull();
    expect(await pendingWriteKeys(userId)).toEqual([]);
  });

  it("records the withdrawal in the consent history", async () => {
    const userId = newUser("consent");
    const { id } = await connectedAtMock(userId, "google");

    await disconnect(userId, id);

    expect(await consentKinds(id)).toEqual(["grant", "withdrawal"]);
    const consents = (await (await callWorker("/v1/consents", { headers: await authHeaders(userId) })).json()) as {
      consents: { kind: string }[];
    };
    expect(consents.consents[0]).toMatchObject({ kind: "withdrawal" });
  });

  it("answers 404 to later reads and deletes of the connection", async () => {
    const userId = newUser("gone");
    const { id, flow } = await connectedAtMock(userId, "google");
    await disconnect(userId, id);

    const read = await callWorker(`/v1/connections/${id}`, { headers: await authHeaders(userId) });
    const again = await disconnect(userId, id);
    const vend = await callWorker(`/v1/connections/${id}/token`, {
      method: "POST",
      headers: { ...(await authHeaders(userId, { scope: "connections:token" })), "Content-Type": "application/json" },
      body: "{}",
    });

    expect(read.status).toBe(404);
    expect(again.status).toBe(404);
    expect(vend.status).toBe(404);
    expect(await mockRequests({ flow, path: "/google/revoke" })).toHaveLength(1);
  });

  it("cannot remove another user's connection", async () => {
    const owner = newUser("owner");
    const { id, flow } = await connectedAtMock(owner, "google");

    expect((await disconnect(newUser("intruder"), id)).status).toBe(404);

    expect(await readRow(id)).not.toBeNull();
    expect((await mockFlow(flow)).revocations).toBe(0);
  });
});

describe("an upstream revocation failure", () => {
  it.each([
    ["answers 500", { failure: "server_error_html", status: 500 }, { reason: "http_500", status: 500 }],
    ["drops the connection", { failure: "drop" }, { reason: "network" }],
  ])("when the revocation endpoint %s, still wipes locally and audits token.revoked as a failure", async (_label, behaviour, reason) => {
    const userId = newUser("upstream-fails");
    const { id, flow } = await connectedAtMock(userId, "google");
    await queueResponses(flow, "revoke", [behaviour]);

    expect((await disconnect(userId, id)).status).toBe(204);

    expect(await readRow(id)).toBeNull();
    expect(await consentKinds(id)).toEqual(["grant", "withdrawal"]);
    const audit = await auditOf(id);
    expect(audit).toContainEqual(
      expect.objectContaining({
        action: "token.revoked",
        outcome: "failure",
        detail: expect.objectContaining({ credential: "refresh", ...reason }),
      }),
    );
    expect(audit).toContainEqual(
      expect.objectContaining({ action: "connection.removed", outcome: "success", detail: { upstream: "failed" } }),
    );
    expect(JSON.stringify(audit)).not.toMatch(/1\/\/mock|ya29/);
  });
});

describe("disconnecting a Notion connection", () => {
  it("revokes at Notion's endpoint with a JSON body and HTTP Basic client authentication", async () => {
    const userId = newUser("notion");
    const { id, flow } = await connectedAtMock(userId, "notion");
    const refreshToken = (await mockFlow(flow)).refresh_tokens[0]!.token;

    expect((await disconnect(userId, id)).status).toBe(204);

    const [revocation, ...more] = await mockRequests({ flow, path: "/notion/v1/oauth/revoke" });
    expect(more).toEqual([]);
    expect(revocation!.headers["content-type"]).toMatch(/^application\/json/);
    expect(revocation!.headers.authorization).toBe(`Basic ${btoa("notion-client-id:notion-client-secret")}`);
    expect(revocation!.headers["notion-version"]).toEqual(expect.any(String));
    expect(JSON.parse(revocation!.body)).toEqual({ token: refreshToken });
    expect((await mockFlow(flow)).refresh_tokens.every((token) => !token.alive)).toBe(true);
    expect(await readRow(id)).toBeNull();
  });

  it("revokes the newest refresh token even when only the Durable Object's write-ahead copy holds it", async () => {
    const userId = newUser("notion-pending");
    const { id, flow } = await connectedAtMock(userId, "notion");
    const vault = userVault(env, userId);
    // D1 refuses the write of the refreshed tokens: Notion has rotated, the new refresh token is only in the write-ahead copy.
    await runInDurableObject(vault, (instance: UserVault) => {
      (instance as unknown as { writeConnection: typeof updateConnection }).writeConnection = async () => {
        throw new Error("D1 unavailable");
      };
    });
    const vend = await callWorker(`/v1/connections/${id}/token`, {
      method: "POST",
      headers: { ...(await authHeaders(userId, { scope: "connections:token" })), "Content-Type": "application/json" },
      body: JSON.stringify({ force_refresh: true }),
    });
    expect(vend.status).toBe(200);
    await runInDurableObject(vault, (instance: UserVault) => {
      (instance as unknown as { writeConnection: typeof updateConnection }).writeConnection = updateConnection;
    });
    const liveBefore = (await mockFlow(flow)).refresh_tokens.filter((token) => token.alive);
    expect(liveBefore).toHaveLength(1);

    expect((await disconnect(userId, id)).status).toBe(204);

    expect((await mockFlow(flow)).refresh_tokens.filter((token) => token.alive)).toEqual([]);
    expect(await pendingWriteKeys(userId)).toEqual([]);
  });
});

describe("disconnecting a connection at a standard OpenID provider", () => {
  it("revokes at the provider's revocation_endpoint from discovery", async () => {
    const userId = newUser("oidc");
    const account = `t-${crypto.randomUUID()}`;
    const id = await connected(userId, LOCAL_OIDC_ID, { login_hint: account });

    expect((await disconnect(userId, id)).status).toBe(204);

    const events = (await (await fetch(`${inject("oidcIssuer")}/__control/events?account=${account}`)).json()) as {
      counts: Record<string, number>;
      events: { type: string; detail?: string }[];
    };
    expect(events.counts.revocation).toBe(1);
    expect(events.events).toContainEqual(expect.objectContaining({ type: "revocation", detail: "refresh_token" }));
    expect(events.counts.grant_revoked).toBeGreaterThanOrEqual(1);
    expect(await readRow(id)).toBeNull();
    expect(await consentKinds(id)).toEqual(["grant", "withdrawal"]);
  });
});

describe("disconnecting a Microsoft connection", () => {
  it("calls nothing upstream, wipes locally and audits the revocation as skipped for want of an endpoint", async () => {
    const userId = newUser("microsoft");
    const { id, flow } = await connectedAtMock(userId, "microsoft");
    const requestsBefore = (await mockRequests({ flow })).length;

    expect((await disconnect(userId, id)).status).toBe(204);

    expect(await mockRequests({ flow })).toHaveLength(requestsBefore);
    expect(await readRow(id)).toBeNull();
    expect(await consentKinds(id)).toEqual(["grant", "withdrawal"]);
    const audit = await auditOf(id);
    expect(audit).toContainEqual(
      expect.objectContaining({ action: "connection.removed", outcome: "success", detail: { upstream: "unsupported" } }),
    );
    expect(audit).toContainEqual(
      expect.objectContaining({
        action: "token.revoked",
        outcome: "success",
        detail: { credential: "refresh", upstream: "skipped", reason: "no_revocation_endpoint" },
      }),
    );
  });
});

describe("DELETE /v1/me", () => {
  it("revokes and removes every connection of the caller and only the caller's", async () => {
    const userId = newUser("me");
    const bystander = newUser("me-bystander");
    const google = await connectedAtMock(userId, "google");
    const notion = await connectedAtMock(userId, "notion");
    const microsoft = await connectedAtMock(userId, "microsoft");
    const other = await connectedAtMock(bystander, "google");

    const response = await callWorker("/v1/me", { method: "DELETE", headers: await authHeaders(userId) });

    expect(response.status).toBe(204);
    const list = (await (await callWorker("/v1/connections", { headers: await authHeaders(userId) })).json()) as { connections: unknown[] };
    expect(list.connections).toEqual([]);
    for (const { id } of [google, notion, microsoft]) expect(await readRow(id)).toBeNull();
    expect((await mockFlow(google.flow)).revocations).toBe(1);
    expect((await mockFlow(notion.flow)).revocations).toBe(1);
    expect(await readRow(other.id)).not.toBeNull();
    expect((await mockFlow(other.flow)).revocations).toBe(0);
  });

  it("keeps the caller's consent and audit history", async () => {
    const userId = newUser("me-history");
    const google = await connectedAtMock(userId, "google");
    const notion = await connectedAtMock(userId, "notion");
    const countEvents = async () =>
      (await env.DB.prepare("SELECT COUNT(*) AS n FROM audit_events WHERE user_id = ?").bind(userId).first<{ n: number }>())!.n;
    const eventsBefore = await countEvents();

    await callWorker("/v1/me", { method: "DELETE", headers: await authHeaders(userId) });

    expect(await consentKinds(google.id)).toEqual(["grant", "withdrawal"]);
    expect(await consentKinds(notion.id)).toEqual(["grant", "withdrawal"]);
    expect(await countEvents()).toBeGreaterThan(eventsBefore);
    const erased = await env.DB.prepare("SELECT outcome, detail FROM audit_events WHERE user_id = ? AND action = 'user.erased'")
      .bind(userId)
      .first<{ outcome: string; detail: string }>();
    expect(erased?.outcome).toBe("success");
    expect(JSON.parse(erased!.detail)).toMatchObject({ connections: 2 });
  });

  it("answers 204 for a caller without connections", async () => {
    const response = await callWorker("/v1/me", { method: "DELETE", headers: await authHeaders(newUser("me-empty")) });
    expect(response.status).toBe(204);
  });
});
