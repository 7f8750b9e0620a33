/**
 * Disconnecting: `DELETE /v1/connections/{id}` revokes the grant at the provider where it can (Google, Notion, a
 * standard OpenID provider's revocation_endpoint; Microsoft has none), then wipes the tokens everywhere, removes the
 * connection and records the withdrawal. `DELETE /v1/me` does that for every connection of the caller.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { getConfig } from "../../src/config";
import { getProviderRegistry } from "../../src/providers/registry";
import type { PendingWrite } from "../../src/vault/pending-writes";
import { userVault, type UserVault } from "../../src/vault/user-vault";
import { updateConnection } from "../../src/storage/connections";
import { mockOrigin } from "../providers/support";
import { useEnvInVault } from "../support/app-with-env";
import { LOCAL_OIDC_ID } from "../support/bindings";
import { Browser } from "../support/browser";
import { connectAccount } from "../support/connect-flow";
import { databaseRefusingToDelete } from "../support/failing-db";
import { activateOk } from "../support/integration-helpers";
import { captureLogs, type CapturedLogs } from "../support/logs";
import { newMockId } from "../support/mock-control";
import { MOCK_OIDC_CLIENT } from "../support/mock-provider-server/clients";
import type { MockBehaviour } from "../support/mock-provider-server/state";
import { newOidcAccount } from "../support/oidc-control";
import { expectProblem } from "../support/problems";
import { connectionAudit } from "../support/refresh-fixtures";
import { readRow, seedConnection } from "../support/seed-connections";
import { localOidc, mockProvider, service } from "../support/toolkit";
import { newUserId } from "../support/users";

/** Connects `provider` for `userId` through the whole flow; returns the connection id. */
async function connected(userId: string, provider: string, providerParams: Record<string, string>): Promise<string> {
  const response = await connectAccount(service, new Browser(), userId, provider, { providerParams });
  expect(response.status).toBe(200);
  return ((await response.json()) as { connection: { id: string } }).connection.id;
}

/** A connection at a mock provider, its flow named so the test can read what the mock received. */
async function connectedAtMock(userId: string, provider: "google" | "notion" | "microsoft"): Promise<{ id: string; flow: string }> {
  const flow = newMockId(`revoke-${provider}`);
  // Notion and Microsoft accounts are keyed by workspace/user and tenant/object ids: make each test's account its own.
  const account = JSON.stringify({ sub: `sub-${flow}`, user_id: crypto.randomUUID(), oid: crypto.randomUUID() });
  return { id: await connected(userId, provider, { mock_flow: flow, mock_account: account }), flow };
}

async function disconnect(userId: string, connectionId: string): Promise<Response> {
  return service.call(userId, `/v1/connections/${connectionId}`, { method: "DELETE" });
}

async function consentKinds(connectionId: string): Promise<string[]> {
  const { results } = await env.DB.prepare("SELECT kind FROM consents WHERE connection_id = ? ORDER BY created_at, id")
    .bind(connectionId)
    .all<{ kind: string }>();
  return results.map((row) => row.kind);
}

/** Puts a write-ahead copy of the row's tokens in the user's Durable Object, as a refresh whose D1 write failed leaves it. */
async function leaveWriteAheadCopy(userId: string, connectionId: string): Promise<void> {
  const row = (await readRow(connectionId))!;
  const leftover: PendingWrite = {
    expectedVersion: row.version + 5,
    update: { refreshTokenCiphertext: row.refreshTokenCiphertext, accessTokenCiphertext: row.accessTokenCiphertext },
  };
  await runInDurableObject(userVault(env, userId), async (_instance: UserVault, state) =>
    state.storage.put(`pending-write:${connectionId}`, leftover),
  );
}

/**
 * Makes every revocation call of `provider` in the user's Durable Object throw, until the test ends. The service logs
 * each such failure: the returned capture holds those lines.
 */
async function revocationThrows(userId: string, provider: string): Promise<CapturedLogs> {
  const errors = captureLogs("error");
  await runInDurableObject(userVault(env, userId), (instance: UserVault) => {
    const registry = getProviderRegistry(getConfig((instance as unknown as { env: Env }).env));
    const revoking = registry.get(provider) as unknown as { revoke: () => Promise<unknown> };
    const spy = vi.spyOn(revoking, "revoke").mockRejectedValue(new TypeError("revocation exploded: https://provider.example/secret"));
    onTestFinished(() => spy.mockRestore());
  });
  return errors;
}

async function pendingWriteKeys(userId: string): Promise<string[]> {
  return runInDurableObject(userVault(env, userId), async (_instance: UserVault, state) => [
    ...(await state.storage.list({ prefix: "pending-write:" })).keys(),
  ]);
}

describe("disconnecting a Google connection", () => {
  it("revokes the refresh token at Google's revocation endpoint, which ends the grant", async () => {
    const userId = newUserId("revoke-google");
    const { id, flow } = await connectedAtMock(userId, "google");
    const refreshToken = (await mockProvider.flowState(flow)).refresh_tokens[0]!.token;

    expect((await disconnect(userId, id)).status).toBe(204);

    const revocations = await mockProvider.requests({ flow, path: "/google/revoke" });
    expect(revocations).toHaveLength(1);
    expect(Object.fromEntries(new URLSearchParams(revocations[0]!.body))).toMatchObject({
      token: refreshToken,
      token_type_hint: "refresh_token",
    });
    const state = await mockProvider.flowState(flow);
    expect(state.revocations).toBe(1);
    expect(state.refresh_tokens.every((token) => !token.alive)).toBe(true);
    expect(await connectionAudit(id)).toEqual(
      expect.arrayContaining([expect.objectContaining({ action: "token.revoked", outcome: "success", detail: { credential: "refresh" } })]),
    );
  });

  it("wipes the tokens: the row is gone and no write-ahead copy stays in the user's Durable Object", async () => {
    const userId = newUserId("revoke-wipe");
    const { id } = await connectedAtMock(userId, "google");
    await leaveWriteAheadCopy(userId, id);
    expect(await pendingWriteKeys(userId)).toEqual([`pending-write:${id}`]);

    expect((await disconnect(userId, id)).status).toBe(204);

    expect(await readRow(id)).toBeNull();
    expect(await pendingWriteKeys(userId)).toEqual([]);
  });

  it("records the withdrawal in the consent history", async () => {
    const userId = newUserId("revoke-consent");
    const { id } = await connectedAtMock(userId, "google");

    await disconnect(userId, id);

    expect(await consentKinds(id)).toEqual(["grant", "withdrawal"]);
    const consents = await service.json<{ consents: { kind: string }[] }>(userId, "/v1/consents");
    expect(consents.consents[0]).toMatchObject({ kind: "withdrawal" });
  });

  it("answers 404 to later reads and deletes of the connection", async () => {
    const userId = newUserId("revoke-gone");
    const { id, flow } = await connectedAtMock(userId, "google");
    await disconnect(userId, id);

    const read = await service.call(userId, `/v1/connections/${id}`);
    const again = await disconnect(userId, id);
    const vend = await service.vend(userId, id);

    expect(read.status).toBe(404);
    expect(again.status).toBe(404);
    expect(vend.status).toBe(404);
    expect(await mockProvider.requests({ flow, path: "/google/revoke" })).toHaveLength(1);
  });

  it("cannot remove another user's connection", async () => {
    const owner = newUserId("revoke-owner");
    const { id, flow } = await connectedAtMock(owner, "google");

    expect((await disconnect(newUserId("revoke-intruder"), id)).status).toBe(404);

    expect(await readRow(id)).not.toBeNull();
    expect((await mockProvider.flowState(flow)).revocations).toBe(0);
  });
});

describe("an upstream revocation failure", () => {
  it.each<[string, MockBehaviour, Record<string, unknown>]>([
    ["answers 500", { failure: "server_error_html", status: 500 }, { reason: "http_500", status: 500 }],
    ["drops the connection", { failure: "drop" }, { reason: "network" }],
  ])("when the revocation endpoint %s, still wipes locally and audits token.revoked as a failure", async (_label, behaviour, reason) => {
    const userId = newUserId("revoke-upstream-fails");
    const { id, flow } = await connectedAtMock(userId, "google");
    await mockProvider.scriptResponses(flow, "revoke", [behaviour]);

    expect((await disconnect(userId, id)).status).toBe(204);

    expect(await readRow(id)).toBeNull();
    expect(await consentKinds(id)).toEqual(["grant", "withdrawal"]);
    const audit = await connectionAudit(id);
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

/** An `OIDC_PROVIDERS` entry named `broken-oidc` at `issuer`, with the mock OIDC client. */
function envWithBrokenOidc(issuer: string): Env {
  const provider = {
    id: "broken-oidc",
    name: "Broken",
    issuer,
    client_id: MOCK_OIDC_CLIENT.clientId,
    scopes: ["openid", "offline_access"],
  };
  return { ...env, OIDC_PROVIDERS: JSON.stringify([provider]), OIDC_BROKEN_OIDC_CLIENT_SECRET: MOCK_OIDC_CLIENT.clientSecret } as Env;
}

describe("a provider that cannot revoke never blocks the local wipe", () => {
  it.each([
    [
      "answers 404",
      async (key: string) => {
        await mockProvider.scriptIssuer(key, "discovery", [{ status: 404 }]);
        return `${mockOrigin()}/oidc/${key}`;
      },
    ],
    [
      "is malformed",
      async (key: string) => {
        await mockProvider.overrideDiscovery(key, { token_endpoint: null });
        return `${mockOrigin()}/oidc/${key}`;
      },
    ],
    [
      "names another issuer",
      async (key: string) => {
        await mockProvider.overrideDiscovery(key, { issuer: "https://elsewhere.example" });
        return `${mockOrigin()}/oidc/${key}`;
      },
    ],
  ])(
    "when the OpenID provider's discovery document %s, DELETE answers 204, wipes row and write-ahead copy, and audits the failed revocation",
    async (_label, issuerOf) => {
      const userId = newUserId("revoke-broken-discovery");
      await useEnvInVault(userId, envWithBrokenOidc(await issuerOf(newMockId("broken"))));
      const { id } = await seedConnection({ userId, provider: "broken-oidc" });
      await leaveWriteAheadCopy(userId, id);
      const errors = captureLogs("error");

      expect((await disconnect(userId, id)).status).toBe(204);
      expect(errors.lines()).toEqual([
        expect.objectContaining({ message: "OPERATOR ACTION NEEDED: OIDC discovery unusable", provider: "broken-oidc" }),
      ]);

      expect(await readRow(id)).toBeNull();
      expect(await pendingWriteKeys(userId)).toEqual([]);
      expect(await consentKinds(id)).toEqual(["withdrawal"]);
      const audit = await connectionAudit(id);
      const revoked = audit.filter((event) => event.action === "token.revoked");
      expect(revoked).toEqual([
        expect.objectContaining({ outcome: "failure", detail: expect.objectContaining({ reason: expect.stringMatching(/^[a-z0-9_]+$/) }) }),
      ]);
      expect(audit).toContainEqual(
        expect.objectContaining({ action: "connection.removed", outcome: "success", detail: { upstream: "failed" } }),
      );
      expect(JSON.stringify(audit)).not.toMatch(/elsewhere|\/oidc\/broken|rt-conn_seed/);
    },
  );

  it("when the revocation call throws, DELETE answers 204, wipes the connection and audits the failure by a code", async () => {
    const userId = newUserId("revoke-revoke-throws");
    const { id, flow } = await connectedAtMock(userId, "google");
    await leaveWriteAheadCopy(userId, id);
    const errors = await revocationThrows(userId, "google");

    expect((await disconnect(userId, id)).status).toBe(204);
    // The error's name only: its message may carry what the provider answered.
    expect(errors.lines()).toEqual([{ message: "revocation failed", provider: "google", error: "TypeError" }]);

    expect(await readRow(id)).toBeNull();
    expect(await pendingWriteKeys(userId)).toEqual([]);
    expect(await consentKinds(id)).toEqual(["grant", "withdrawal"]);
    const audit = await connectionAudit(id);
    expect(audit).toContainEqual(
      expect.objectContaining({
        action: "token.revoked",
        outcome: "failure",
        detail: { credential: "refresh", reason: "unexpected_error" },
      }),
    );
    expect(JSON.stringify(audit)).not.toMatch(/exploded|provider\.example/);
    expect((await mockProvider.flowState(flow)).revocations).toBe(0);
  });
});

describe("a removal that D1 cannot finish", () => {
  it("answers 503 with Retry-After, revokes nothing, keeps the connection, and a repeat removes it", async () => {
    const userId = newUserId("revoke-wipe-fails");
    const { id, flow } = await connectedAtMock(userId, "google");
    const error = vi.spyOn(console, "error").mockImplementation(() => undefined);
    onTestFinished(() => error.mockRestore());
    const restore = await useEnvInVault(userId, { ...env, DB: databaseRefusingToDelete(env.DB, id) } as Env);

    const refused = await disconnect(userId, id);

    await expectProblem(refused, 503, "service-unavailable");
    expect(refused.headers.get("Retry-After")).toBe("30");
    expect(await readRow(id)).not.toBeNull();
    expect((await mockProvider.flowState(flow)).revocations).toBe(0);
    expect(await connectionAudit(id)).toContainEqual(
      expect.objectContaining({ action: "connection.removed", outcome: "failure", detail: { reason: "storage_unavailable" } }),
    );

    restore();
    expect((await disconnect(userId, id)).status).toBe(204);
    expect(await readRow(id)).toBeNull();
    expect((await mockProvider.flowState(flow)).revocations).toBe(1);
  });
});

describe("connections sharing one Google grant", () => {
  /** Connects `provider` at the mock for `userId` as the Google account `sub`, in Google's grant `grant`. */
  async function connectedToGrant(
    userId: string,
    provider: "google" | "youtube",
    { sub, grant }: { sub: string; grant: string },
  ): Promise<{ id: string; flow: string }> {
    const flow = newMockId(`shared-${provider}`);
    const channel = { id: `UC${crypto.randomUUID().replaceAll("-", "")}`, title: "Shared Channel" };
    const account = JSON.stringify({ sub, email: `${sub}@example.com`, channel });
    return { id: await connected(userId, provider, { mock_flow: flow, mock_account: account, mock_grant: grant }), flow };
  }

  async function refreshes(userId: string, connectionId: string): Promise<number> {
    return (await service.vend(userId, connectionId, { force_refresh: true })).status;
  }

  it("removing a YouTube connection whose Google account also has a Google connection makes no revocation call, and the Google one still refreshes", async () => {
    const userId = newUserId("revoke-shared-youtube");
    const account = { sub: `sub-${crypto.randomUUID()}`, grant: crypto.randomUUID() };
    const google = await connectedToGrant(userId, "google", account);
    const youtube = await connectedToGrant(userId, "youtube", account);

    expect((await disconnect(userId, youtube.id)).status).toBe(204);

    expect(await mockProvider.requests({ path: "/google/revoke", flow: youtube.flow })).toEqual([]);
    expect(await mockProvider.requests({ path: "/google/revoke", flow: google.flow })).toEqual([]);
    expect(await readRow(youtube.id)).toBeNull();
    expect(await connectionAudit(youtube.id)).toContainEqual(
      expect.objectContaining({ action: "token.revoked", outcome: "success", detail: { upstream: "skipped", reason: "shared_grant" } }),
    );
    expect(await refreshes(userId, google.id)).toBe(200);
  });

  it("removing the last connection of the grant revokes it", async () => {
    const userId = newUserId("revoke-shared-last");
    const account = { sub: `sub-${crypto.randomUUID()}`, grant: crypto.randomUUID() };
    const google = await connectedToGrant(userId, "google", account);
    const youtube = await connectedToGrant(userId, "youtube", account);
    expect((await disconnect(userId, google.id)).status).toBe(204);
    expect((await mockProvider.flowState(google.flow)).revocations).toBe(0);

    expect((await disconnect(userId, youtube.id)).status).toBe(204);

    expect((await mockProvider.flowState(youtube.flow)).revocations).toBe(1);
    for (const flow of [google.flow, youtube.flow]) {
      expect((await mockProvider.flowState(flow)).refresh_tokens.every((token) => !token.alive)).toBe(true);
    }
    expect(await connectionAudit(youtube.id)).toContainEqual(
      expect.objectContaining({ action: "token.revoked", outcome: "success", detail: { credential: "refresh" } }),
    );
  });

  it("two users who connected the same Google account: the first removal skips the revocation, the last one revokes", async () => {
    const first = newUserId("revoke-shared-first");
    const second = newUserId("revoke-shared-second");
    const account = { sub: `sub-${crypto.randomUUID()}`, grant: crypto.randomUUID() };
    const firstConnection = await connectedToGrant(first, "google", account);
    const secondConnection = await connectedToGrant(second, "google", account);

    expect((await disconnect(first, firstConnection.id)).status).toBe(204);

    expect((await mockProvider.flowState(firstConnection.flow)).revocations).toBe(0);
    expect(await refreshes(second, secondConnection.id)).toBe(200);

    expect((await disconnect(second, secondConnection.id)).status).toBe(204);

    expect((await mockProvider.flowState(secondConnection.flow)).revocations).toBe(1);
    expect((await mockProvider.flowState(firstConnection.flow)).refresh_tokens.every((token) => !token.alive)).toBe(true);
  });
});

describe("disconnecting a Notion connection", () => {
  it("revokes at Notion's endpoint with a JSON body and HTTP Basic client authentication", async () => {
    const userId = newUserId("revoke-notion");
    const { id, flow } = await connectedAtMock(userId, "notion");
    const refreshToken = (await mockProvider.flowState(flow)).refresh_tokens[0]!.token;

    expect((await disconnect(userId, id)).status).toBe(204);

    const [revocation, ...more] = await mockProvider.requests({ flow, path: "/notion/v1/oauth/revoke" });
    expect(more).toEqual([]);
    expect(revocation!.headers["content-type"]).toMatch(/^application\/json/);
    expect(revocation!.headers.authorization).toBe(`Basic ${btoa("notion-client-id:notion-client-secret")}`);
    expect(revocation!.headers["notion-version"]).toEqual(expect.any(String));
    expect(JSON.parse(revocation!.body)).toEqual({ token: refreshToken });
    expect((await mockProvider.flowState(flow)).refresh_tokens.every((token) => !token.alive)).toBe(true);
    expect(await readRow(id)).toBeNull();
  });

  it("revokes the newest refresh token even when only the Durable Object's write-ahead copy holds it", async () => {
    const userId = newUserId("revoke-notion-pending");
    const { id, flow } = await connectedAtMock(userId, "notion");
    const vault = userVault(env, userId);
    // D1 refuses the write of the refreshed tokens: Notion has rotated, the new refresh token is only in the write-ahead copy.
    const errors = captureLogs("error");
    await runInDurableObject(vault, (instance: UserVault) => {
      (instance as unknown as { writeConnection: typeof updateConnection }).writeConnection = async () => {
        throw new Error("D1 unavailable");
      };
    });
    const vend = await service.vend(userId, id, { force_refresh: true });
    expect(vend.status).toBe(200);
    expect(errors.messages()).toEqual(["D1 write failed; refreshed tokens kept in the write-ahead copy"]);
    await runInDurableObject(vault, (instance: UserVault) => {
      (instance as unknown as { writeConnection: typeof updateConnection }).writeConnection = updateConnection;
    });
    const liveBefore = (await mockProvider.flowState(flow)).refresh_tokens.filter((token) => token.alive);
    expect(liveBefore).toHaveLength(1);

    expect((await disconnect(userId, id)).status).toBe(204);

    expect((await mockProvider.flowState(flow)).refresh_tokens.filter((token) => token.alive)).toEqual([]);
    expect(await pendingWriteKeys(userId)).toEqual([]);
  });
});

describe("disconnecting a connection at a standard OpenID provider", () => {
  it("revokes at the provider's revocation_endpoint from discovery", async () => {
    const userId = newUserId("revoke-oidc");
    const account = newOidcAccount();
    const id = await connected(userId, LOCAL_OIDC_ID, { login_hint: account });

    expect((await disconnect(userId, id)).status).toBe(204);

    const events = await localOidc.events(account);
    expect(events.counts.revocation).toBe(1);
    expect(events.events).toContainEqual(expect.objectContaining({ type: "revocation", detail: "refresh_token" }));
    expect(events.counts.grant_revoked).toBeGreaterThanOrEqual(1);
    expect(await readRow(id)).toBeNull();
    expect(await consentKinds(id)).toEqual(["grant", "withdrawal"]);
  });
});

describe("disconnecting a Microsoft connection", () => {
  it("calls nothing upstream, wipes locally and audits the revocation as skipped for want of an endpoint", async () => {
    const userId = newUserId("revoke-microsoft");
    const { id, flow } = await connectedAtMock(userId, "microsoft");
    const requestsBefore = (await mockProvider.requests({ flow })).length;

    expect((await disconnect(userId, id)).status).toBe(204);

    expect(await mockProvider.requests({ flow })).toHaveLength(requestsBefore);
    expect(await readRow(id)).toBeNull();
    expect(await consentKinds(id)).toEqual(["grant", "withdrawal"]);
    const audit = await connectionAudit(id);
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
    const userId = newUserId("revoke-me");
    const bystander = newUserId("revoke-me-bystander");
    const google = await connectedAtMock(userId, "google");
    const notion = await connectedAtMock(userId, "notion");
    const microsoft = await connectedAtMock(userId, "microsoft");
    const other = await connectedAtMock(bystander, "google");

    const response = await service.call(userId, "/v1/me", { method: "DELETE" });

    expect(response.status).toBe(204);
    const list = await service.json<{ connections: unknown[] }>(userId, "/v1/connections");
    expect(list.connections).toEqual([]);
    for (const { id } of [google, notion, microsoft]) expect(await readRow(id)).toBeNull();
    expect((await mockProvider.flowState(google.flow)).revocations).toBe(1);
    expect((await mockProvider.flowState(notion.flow)).revocations).toBe(1);
    expect(await readRow(other.id)).not.toBeNull();
    expect((await mockProvider.flowState(other.flow)).revocations).toBe(0);
  });

  it("keeps the caller's consent and audit history", async () => {
    const userId = newUserId("revoke-me-history");
    const google = await connectedAtMock(userId, "google");
    const notion = await connectedAtMock(userId, "notion");
    const countEvents = async () =>
      (await env.DB.prepare("SELECT COUNT(*) AS n FROM audit_events WHERE user_id = ?").bind(userId).first<{ n: number }>())!.n;
    const eventsBefore = await countEvents();

    await service.call(userId, "/v1/me", { method: "DELETE" });

    expect(await consentKinds(google.id)).toEqual(["grant", "withdrawal"]);
    expect(await consentKinds(notion.id)).toEqual(["grant", "withdrawal"]);
    expect(await countEvents()).toBeGreaterThan(eventsBefore);
    const erased = await env.DB.prepare("SELECT outcome, detail FROM audit_events WHERE user_id = ? AND action = 'user.erased'")
      .bind(userId)
      .first<{ outcome: string; detail: string }>();
    expect(erased?.outcome).toBe("success");
    expect(JSON.parse(erased!.detail)).toMatchObject({ connections: 2 });
  });

  it("carries on past a connection whose revocation throws: every connection, activation and pending authorization goes", async () => {
    const userId = newUserId("revoke-me-throws");
    const google = await connectedAtMock(userId, "google");
    const notion = await connectedAtMock(userId, "notion");
    const { authorization_url: startUrl } = await service.beginConnect(userId, "microsoft");
    await activateOk(userId, "outlook-mail");
    await revocationThrows(userId, "google");

    expect((await service.call(userId, "/v1/me", { method: "DELETE" })).status).toBe(204);

    for (const { id } of [google, notion]) expect(await readRow(id)).toBeNull();
    expect((await mockProvider.flowState(notion.flow)).revocations).toBe(1);
    expect(await connectionAudit(google.id)).toContainEqual(
      expect.objectContaining({
        action: "token.revoked",
        outcome: "failure",
        detail: { credential: "refresh", reason: "unexpected_error" },
      }),
    );
    const activations = await env.DB.prepare("SELECT COUNT(*) AS n FROM integration_activations WHERE user_id = ?")
      .bind(userId)
      .first<{ n: number }>();
    expect(activations!.n).toBe(0);
    await expectProblem(await new Browser().request(startUrl), 400, "invalid-state");
  });

  it("answers 204 for a caller without connections", async () => {
    const response = await service.call(newUserId("revoke-me-empty"), "/v1/me", { method: "DELETE" });
    expect(response.status).toBe(204);
  });
});
