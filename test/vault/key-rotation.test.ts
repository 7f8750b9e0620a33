/**
 * Key rotation end to end. The ring `k2,k1` of the test bindings is the state after a rotation: `k1` was the only key
 * before, `k2` has just been put first. Rows written before the rotation are seeded under `k1`. The Durable Object
 * runs with the bindings' env, so the rotation a cron tick's re-encryption jobs perform through it (the queues
 * delivered by the test, test/support/vault-queues.ts) is k1 -> k2; a ring with a key the
 * bindings do not hold (`k3`) is exercised where the Worker itself reads (vending hot path, admin view), or through
 * a user's Durable Object given that ring too (`useEnvInVault`: the callback stores connections through it).
 * D1 is per test file: every test starts from an empty connections table so the key counts are its own.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { reEncryptConnection } from "../../src/vault/re-encryption";
import { createServices } from "../../src/services";
import type { VaultServices } from "../../src/vault/vault-services";
import { SCAN_PAGE_SIZE } from "../../src/queues/limits";
import { updateConnection } from "../../src/storage/connections";
import { database } from "../../src/storage/database";
import { configuredProvider, connect, tokensOf } from "../providers/support";
import { apiClient } from "../support/api-client";
import { appWithEnv, useEnvInVault } from "../support/app-with-env";
import { TEST_ENCRYPTION_KEYS } from "../support/bindings";
import { Browser } from "../support/browser";
import { connectAccount } from "../support/connect-flow";
import { newMockId } from "../support/mock-control";
import {
  cipherFor,
  decryptRow,
  deleteAllConnections,
  envWithKeys,
  K1,
  K2,
  K3,
  moveRowToKeys,
  readRow,
  seedConnection,
  seedConnections,
} from "../support/seed-connections";
import {
  connectLocalOidc,
  expireStoredToken,
  failNextConnectionWrite,
  moveWriteAheadCopyToKeys,
  vendOk,
  writeAheadCopy,
} from "../support/refresh-fixtures";
import { localOidc, mockProvider, service } from "../support/toolkit";
import { runJobs, scanAt, tick, vaultQueues, type ReEncryptionCounts } from "../support/vault-queues";

beforeEach(deleteAllConnections);
afterEach(() => {
  vi.restoreAllMocks();
});

interface KeyStatus {
  current_key_id: string;
  keys: { key_id: string; connections: number; configured: boolean; write_ahead_copies: number; webhook_secrets: number }[];
  remaining_to_re_encrypt: number;
}

function keyStatus(): Promise<KeyStatus> {
  return service.json<KeyStatus>("rotation-admin", "/v1/admin/keys", { scope: "admin" });
}

function countOf(status: KeyStatus, keyId: string): number | undefined {
  return status.keys.find((key) => key.key_id === keyId)?.connections;
}

/** One cron tick with its scan pages and jobs; returns what its re-encryption jobs did, and how many there were. */
async function reEncryptionTick(now = Date.now()): Promise<ReEncryptionCounts & { jobs: number }> {
  const done = await tick(vaultQueues(), now);
  return { ...done.reEncrypt, jobs: done.jobs.filter((job) => job.kind === "re_encrypt").length };
}

async function keyIdsOfAllRows(): Promise<Record<string, number>> {
  const { results } = await env.DB.prepare("SELECT key_id, COUNT(*) AS n FROM connections GROUP BY key_id").all<{
    key_id: string;
    n: number;
  }>();
  return Object.fromEntries(results.map((row) => [row.key_id, row.n]));
}

/** A live Google refresh token of a mock flow of its own (Google does not rotate, so rows may share it). */
async function googleTokens(): Promise<{ flow: string; refreshToken: string; accessToken: string }> {
  const flow = newMockId("rotation-google");
  const tokens = tokensOf((await connect(configuredProvider("google"), { mock_flow: flow })).result);
  return { flow, refreshToken: tokens.refreshToken!, accessToken: tokens.accessToken };
}

describe("after a new key is put first in the ring", () => {
  it("a new connection is written with the new first key", async () => {
    const ring = `${K3},${TEST_ENCRYPTION_KEYS}`;
    const call = appWithEnv(envWithKeys(ring));
    await useEnvInVault("rotation-new-write", envWithKeys(ring));
    const flow = newMockId("rotation-new-write");

    const response = await connectAccount(apiClient(call), new Browser(call), "rotation-new-write", "google", {
      providerParams: { mock_flow: flow, mock_account: JSON.stringify({ sub: flow }) },
    });

    expect(response.status).toBe(200);
    const { connection } = (await response.json()) as { connection: { id: string } };
    const row = (await readRow(connection.id))!;
    expect(row.keyId).toBe("k3");
    expect(row.accessTokenCiphertext).toMatch(/^v1\.k3\./);
    expect(row.refreshTokenCiphertext).toMatch(/^v1\.k3\./);
    const tokens = await decryptRow(row, ring);
    expect(tokens.refreshToken).toBe((await mockProvider.flowState(flow)).refresh_tokens[0]!.token);
  });

  it("connections written under the older keys still vend", async () => {
    const rotated = apiClient(appWithEnv(envWithKeys(`${K3},${TEST_ENCRYPTION_KEYS}`)));
    const underK1 = await seedConnection({ userId: "rotation-read", keys: K1, accessToken: "at-under-k1" });
    const underK2 = await seedConnection({ userId: "rotation-read", keys: K2, accessToken: "at-under-k2" });

    const responses = [await rotated.vend("rotation-read", underK1.id), await rotated.vend("rotation-read", underK2.id)];

    expect(responses.map((response) => response.status)).toEqual([200, 200]);
    expect(
      await Promise.all(responses.map(async (response) => ((await response.json()) as { access_token: string }).access_token)),
    ).toEqual(["at-under-k1", "at-under-k2"]);
  });

  it("refreshing a connection written under the old key rewrites both its tokens under the new key", async () => {
    const google = await googleTokens();
    const row = await seedConnection({
      userId: "rotation-refresh",
      keys: K1,
      refreshToken: google.refreshToken,
      expiresAt: Date.now() + 60_000,
    });

    const response = await service.vend("rotation-refresh", row.id);

    expect(response.status).toBe(200);
    const after = (await readRow(row.id))!;
    expect(after.keyId).toBe("k2");
    expect(after.accessTokenCiphertext).toMatch(/^v1\.k2\./);
    expect(after.refreshTokenCiphertext).toMatch(/^v1\.k2\./);
    // Google sent no new refresh token: the kept one is re-encrypted, and reads without the old key.
    expect((await decryptRow(after, K2)).refreshToken).toBe(google.refreshToken);
  });
});

describe("re-encryption through the queues", () => {
  it("moves every old row to the new key in one tick, page after page, as GET /v1/admin/keys shows", async () => {
    const old = await seedConnections(SCAN_PAGE_SIZE + 25, (index) => ({ userId: `rotation-batch-${index % 9}`, keys: K1 }));
    await seedConnections(5, (index) => ({ userId: `rotation-batch-${index}`, keys: K2 }));
    const before = await keyStatus();
    expect(before).toMatchObject({ current_key_id: "k2", remaining_to_re_encrypt: old.length });
    expect(countOf(before, "k1")).toBe(old.length);

    const first = await reEncryptionTick();
    const after = await keyStatus();
    const second = await reEncryptionTick();

    expect(first).toMatchObject({ jobs: old.length, re_encrypted: old.length, undecryptable: 0, conflict: 0, error: 0 });
    expect(after.remaining_to_re_encrypt).toBe(0);
    expect(after.keys).toEqual(
      expect.arrayContaining([
        { key_id: "k2", connections: old.length + 5, configured: true, write_ahead_copies: 0, webhook_secrets: 0 },
        { key_id: "k1", connections: 0, configured: true, write_ahead_copies: 0, webhook_secrets: 0 },
      ]),
    );
    expect(second.jobs).toBe(0);
  }, 60_000);

  it("leaves every token readable without the old key, unchanged in plain text", async () => {
    const old = await seedConnections(12, (index) => ({
      userId: `rotation-retire-${index % 3}`,
      keys: K1,
      accessToken: `at-${index}`,
      refreshToken: `rt-${index}`,
    }));

    await reEncryptionTick();

    for (const [index, row] of old.entries()) {
      const after = (await readRow(row.id))!;
      // Decrypting with a ring that no longer holds k1: the old key could now be retired.
      expect(await decryptRow(after, K2)).toEqual({ accessToken: `at-${index}`, refreshToken: `rt-${index}` });
      expect(after.version).toBe(row.version + 1);
    }
  });

  it("records each batch of re-encryptions in the audit log", async () => {
    await seedConnections(3, (index) => ({ userId: `rotation-audit-${index}`, keys: K1 }));

    await reEncryptionTick();

    const event = await env.DB.prepare(
      "SELECT actor, outcome, detail FROM audit_events WHERE action = 'keys.re_encrypted' ORDER BY at DESC LIMIT 1",
    ).first<{ actor: string; outcome: string; detail: string }>();
    expect(event).toMatchObject({ actor: "cron", outcome: "success" });
    expect(JSON.parse(event!.detail)).toMatchObject({ re_encrypted: 3, key_id: "k2" });
  });

  it("reports a row no key in the ring decrypts, and leaves it as it was", async () => {
    const lost = await seedConnection({ userId: "rotation-lost", keys: K3 });
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);

    const summary = await reEncryptionTick();

    expect(summary).toMatchObject({ undecryptable: 1, re_encrypted: 0 });
    expect((await readRow(lost.id))!).toMatchObject({ keyId: "k3", version: 1, accessTokenCiphertext: lost.accessTokenCiphertext });
    expect(errors.mock.calls.map(([line]) => String(line)).join("\n")).toContain("does not decrypt");
    expect((await keyStatus()).keys).toContainEqual({
      key_id: "k3",
      connections: 1,
      configured: false,
      write_ahead_copies: 0,
      webhook_secrets: 0,
    });
  });

  it("never makes a vend fail while it runs", async () => {
    const now = Date.now();
    const users = Array.from({ length: 6 }, (_, index) => `rotation-vend-${index}`);
    const hot = await seedConnections(24, (index) => ({ userId: users[index % users.length]!, keys: K1, accessToken: `hot-${index}` }));
    // A few that need a refresh through the Durable Object while the cron goes through the same objects.
    const google = await googleTokens();
    const expiring = await seedConnections(3, (index) => ({
      userId: users[index]!,
      keys: K1,
      refreshToken: google.refreshToken,
      expiresAt: now + 60_000,
    }));
    let cronDone = false;
    const statuses: number[] = [];
    const wrongTokens: string[] = [];
    let answeredDuringCron = 0;

    const vendRounds = (async () => {
      let rounds = 0;
      while (!cronDone || rounds < 2) {
        rounds++;
        await Promise.all([
          ...hot.map(async (row, index) => {
            const response = await service.vend(row.userId, row.id);
            statuses.push(response.status);
            if (!cronDone) answeredDuringCron++;
            const body = (await response.json()) as { access_token?: string };
            if (body.access_token !== `hot-${index}`) wrongTokens.push(row.id);
          }),
          ...expiring.map(async (row) => {
            const response = await service.vend(row.userId, row.id);
            statuses.push(response.status);
            await response.body?.cancel();
          }),
        ]);
      }
      return rounds;
    })();
    const cron = reEncryptionTick(now).finally(() => {
      cronDone = true;
    });
    const [rounds, summary] = await Promise.all([vendRounds, cron]);

    expect(summary).toMatchObject({ undecryptable: 0 });
    // The vends really overlapped the re-encryption.
    expect(answeredDuringCron).toBeGreaterThan(0);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(statuses).toHaveLength(rounds * (hot.length + expiring.length));
    expect(wrongTokens).toEqual([]);
    expect(await keyIdsOfAllRows()).toEqual({ k2: hot.length + expiring.length });
  }, 60_000);
});

describe("re-encryption and a concurrent token write", () => {
  it("waits for a refresh under way in the Durable Object, so the rotated refresh token survives", async () => {
    const flow = newMockId("rotation-race");
    const tokens = tokensOf((await connect(configuredProvider("notion"), { mock_flow: flow })).result);
    const row = await seedConnection({
      userId: "rotation-race",
      provider: "notion",
      keys: K1,
      refreshToken: tokens.refreshToken,
      accessToken: tokens.accessToken,
      expiresAt: null,
    });
    // Notion rotates, and the old refresh token dies: writing it back would break the connection.
    await mockProvider.scriptResponses(flow, "token", [{ failure: "delay", delay_ms: 700 }]);
    const tokenPath = "/notion/v1/oauth/token";
    const exchanges = (await mockProvider.requests({ flow, path: tokenPath })).length;

    const refreshing = service.vend("rotation-race", row.id, { force_refresh: true });
    while ((await mockProvider.requests({ flow, path: tokenPath })).length === exchanges) await scheduler.wait(5);
    // The refresh is now waiting for Notion, inside the user's Durable Object.
    const summary = await reEncryptionTick();
    const refreshed = await refreshing;

    expect(refreshed.status).toBe(200);
    // Serialized behind the refresh, re-encryption finds the row already under the new key (or, if the refresh won
    // the race to D1 outright, never selects it): either way it writes nothing.
    expect(summary).toMatchObject({ re_encrypted: 0, conflict: 0 });
    const after = (await readRow(row.id))!;
    expect(after.keyId).toBe("k2");
    const stored = await decryptRow(after, K2);
    const alive = (await mockProvider.flowState(flow)).refresh_tokens.filter((token) => token.alive).map((token) => token.token);
    expect(alive).toEqual([stored.refreshToken]);
    expect(stored.refreshToken).not.toBe(tokens.refreshToken);
    expect((await service.vend("rotation-race", row.id, { force_refresh: true })).status).toBe(200);
  });

  it("does not overwrite a row another writer changed after it was read (compare-and-swap on version)", async () => {
    const row = await seedConnection({ userId: "rotation-cas", keys: K1, refreshToken: "rt-old", accessToken: "at-old" });
    const services = createServices(env, { requestId: null, ip: null, userId: row.userId, actor: "cron" });
    const { cipher, db } = services;
    const owner = { userId: row.userId, connectionId: row.id };
    const deps: VaultServices = {
      ...services,
      pendingWrites: { get: async () => undefined, put: async () => undefined, delete: async () => undefined },
      // A reconnect (written by the Worker, not the Durable Object) lands between re-encryption's read and its write.
      writeConnection: async (...args) => {
        const reconnected = await updateConnection(
          db,
          { ...owner, id: row.id, expectedVersion: row.version },
          {
            accessTokenCiphertext: await cipher.encrypt("at-new", { ...owner, field: "access_token" }),
            refreshTokenCiphertext: await cipher.encrypt("rt-new", { ...owner, field: "refresh_token" }),
            keyId: cipher.currentKeyId,
          },
        );
        expect(reconnected).toBe(true);
        return updateConnection(...args);
      },
    };

    const result = await reEncryptConnection(deps, owner);

    expect(result).toBe("conflict");
    const after = (await readRow(row.id))!;
    expect(await decryptRow(after)).toEqual({ accessToken: "at-new", refreshToken: "rt-new" });
    expect(after.version).toBe(row.version + 1);
  });
});

describe("a re-encryption job and a reconnect", () => {
  it("a reconnect landing between the scan and the job keeps its tokens: the job finds the row under the current key", async () => {
    const row = await seedConnection({ userId: "rotation-reconnect", keys: K1, refreshToken: "rt-old", accessToken: "at-old" });
    const queues = vaultQueues();
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    const jobs = await scanAt(queues, Date.now());
    // The user connects the same account again meanwhile (written by the Worker, not the Durable Object).
    const cipher = cipherFor(TEST_ENCRYPTION_KEYS);
    const owner = { userId: row.userId, connectionId: row.id };
    const reconnected = await updateConnection(
      database(env.DB),
      { userId: row.userId, id: row.id, expectedVersion: row.version },
      {
        accessTokenCiphertext: await cipher.encrypt("at-new", { ...owner, field: "access_token" }),
        refreshTokenCiphertext: await cipher.encrypt("rt-new", { ...owner, field: "refresh_token" }),
        keyId: cipher.currentKeyId,
      },
    );

    const settled = await runJobs(queues, jobs);

    expect(reconnected).toBe(true);
    expect(jobs).toEqual([{ kind: "re_encrypt", userId: row.userId, connectionId: row.id }]);
    expect(settled.map(({ settled }) => settled)).toEqual([{ acked: true, retried: false }]);
    const after = (await readRow(row.id))!;
    expect(await decryptRow(after)).toEqual({ accessToken: "at-new", refreshToken: "rt-new" });
    expect(after.version).toBe(row.version + 1);
  });
});

describe("re-encryption and a write-ahead copy", () => {
  it("lands a copy left under the old key before re-encrypting, so the rotated refresh token survives and refreshes afterwards", async () => {
    const oidc = await connectLocalOidc("rotation-wal");
    // A refresh at the rotating oidc-provider whose D1 write failed: the rotated refresh token is only in the copy.
    await failNextConnectionWrite(oidc.userId);
    const vended = (await vendOk(oidc, { force_refresh: true })).access_token;
    // Both were written before the rotation put k2 first.
    await moveRowToKeys(oidc.connectionId, K1);
    await moveWriteAheadCopyToKeys(oidc, K1);
    const copy = (await writeAheadCopy(oidc))!;
    const rotated = await cipherFor(K1).decrypt(copy.update.refreshTokenCiphertext!, {
      userId: oidc.userId,
      connectionId: oidc.connectionId,
      field: "refresh_token",
    });
    if (!rotated.ok) throw new Error(`the copy does not decrypt under k1: ${rotated.reason}`);

    const summary = await reEncryptionTick();

    expect(summary).toMatchObject({ re_encrypted: 1, undecryptable: 0 });
    const after = (await readRow(oidc.connectionId))!;
    expect(await decryptRow(after, K2)).toEqual({ accessToken: vended, refreshToken: rotated.plaintext });
    expect(await writeAheadCopy(oidc)).toBeUndefined();
    await expireStoredToken(oidc.connectionId);
    await vendOk(oidc);
    expect((await localOidc.events(oidc.flow)).counts).toMatchObject({ refresh_token: 2, token_error: 0, grant_revoked: 0 });
    expect((await readRow(oidc.connectionId))!.status).toBe("active");
  });
});

describe("rows whose re-encryption fails", () => {
  it("never hold up a row queued behind a whole page of them, and are skipped for a while by the next tick", async () => {
    // Written under a key no longer in the ring; re-encryption visits rows in id order, these first.
    await seedConnections(SCAN_PAGE_SIZE, (index) => ({
      id: `conn_a${String(index).padStart(4, "0")}_${crypto.randomUUID()}`,
      userId: `rotation-stuck-${index % 8}`,
      keys: K3,
    }));
    const healthy = await seedConnection({ id: `conn_z_${crypto.randomUUID()}`, userId: "rotation-stuck-healthy", keys: K1 });
    vi.spyOn(console, "error").mockImplementation(() => undefined);

    const first = await reEncryptionTick();
    const second = await reEncryptionTick();

    expect(first).toMatchObject({ undecryptable: SCAN_PAGE_SIZE, re_encrypted: 1 });
    expect(second.jobs).toBe(0);
    expect((await readRow(healthy.id))!.keyId).toBe("k2");
  }, 60_000);
});

describe("the key ring a cipher is built from", () => {
  it("decrypts a value written under an older key only while that key is in the ring", async () => {
    const owner = { userId: "rotation-ring", connectionId: "conn_ring", field: "access_token" as const };
    const written = await cipherFor(K1).encrypt("secret", owner);

    expect(await cipherFor(TEST_ENCRYPTION_KEYS).decrypt(written, owner)).toMatchObject({ ok: true, plaintext: "secret", keyId: "k1" });
    expect(await cipherFor(K2).decrypt(written, owner)).toEqual({ ok: false, reason: "unknown_key" });
  });
});
