/**
 * `GET /v1/admin/keys`: connections, write-ahead copies and webhook secrets per encryption key id, for watching a
 * rotation; only for callers with `admin`. D1 is per test file: every test starts from empty connections and webhook
 * endpoints tables so the counts are its own.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { apiClient, type SendToService } from "../support/api-client";
import { appWithEnv } from "../support/app-with-env";
import { TEST_ENCRYPTION_KEYS } from "../support/bindings";
import { expectProblem } from "../support/problems";
import { deleteAllConnections, envWithKeys, K1, K2, K3, seedConnections } from "../support/seed-connections";
import { connectLocalOidc, failNextConnectionWrite, vendOk } from "../support/refresh-fixtures";
import { deleteAllWebhookEndpoints, endpointUnderKeys } from "../support/webhooks";
import { callWorker } from "../support/worker";

beforeEach(async () => {
  await deleteAllConnections();
  await deleteAllWebhookEndpoints();
});

/** Subscribes `count` webhook endpoints whose secrets are under the first key of `keys`. */
async function subscribeEndpointsUnder(keys: string, count: number): Promise<void> {
  for (let index = 0; index < count; index++) await endpointUnderKeys(keys);
}

function getKeys(scope?: string, send: SendToService = callWorker): Promise<Response> {
  return apiClient(send).call("admin-user", "/v1/admin/keys", scope === undefined ? {} : { scope });
}

describe("GET /v1/admin/keys", () => {
  it("refuses a caller without a bearer token with 401", async () => {
    const response = await callWorker("/v1/admin/keys");
    expect(response.status).toBe(401);
  });

  it("refuses a caller without the admin scope with 403, naming the scope", async () => {
    const response = await getKeys("connections:token");

    const problem = await expectProblem(response, 403, "forbidden");
    expect(problem.required_scope).toBe("admin");
  });

  it("counts connections per key id, with the current key and how many remain to re-encrypt", async () => {
    await seedConnections(4, (index) => ({ userId: `admin-count-${index}`, keys: K2 }));
    await seedConnections(3, (index) => ({ userId: `admin-count-${index}`, keys: K1 }));

    const response = await getKeys("admin");

    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(await response.json()).toEqual({
      current_key_id: "k2",
      keys: [
        { key_id: "k2", connections: 4, configured: true, write_ahead_copies: 0, webhook_secrets: 0 },
        { key_id: "k1", connections: 3, configured: true, write_ahead_copies: 0, webhook_secrets: 0 },
      ],
      remaining_to_re_encrypt: 3,
    });
  });

  it("lists every configured key, with zero connections before any exist", async () => {
    const body = (await (await getKeys("admin")).json()) as { keys: unknown[]; remaining_to_re_encrypt: number };

    expect(body.keys).toEqual([
      { key_id: "k2", connections: 0, configured: true, write_ahead_copies: 0, webhook_secrets: 0 },
      { key_id: "k1", connections: 0, configured: true, write_ahead_copies: 0, webhook_secrets: 0 },
    ]);
    expect(body.remaining_to_re_encrypt).toBe(0);
  });

  it("lists a key id that protects rows but is no longer in the ring as not configured, still to re-encrypt", async () => {
    await seedConnections(2, (index) => ({ userId: `admin-retired-${index}`, keys: K3 }));

    const body = (await (await getKeys("admin")).json()) as { keys: unknown[]; remaining_to_re_encrypt: number };

    expect(body.keys).toContainEqual({ key_id: "k3", connections: 2, configured: false, write_ahead_copies: 0, webhook_secrets: 0 });
    expect(body.remaining_to_re_encrypt).toBe(2);
  });

  it("follows the ring's first key: after a new key is put first, everything else remains to re-encrypt", async () => {
    await seedConnections(2, (index) => ({ userId: `admin-new-first-${index}`, keys: K2 }));
    await seedConnections(1, (index) => ({ userId: `admin-new-first-${index}`, keys: K1 }));
    const rotated = appWithEnv(envWithKeys(`${K3},${TEST_ENCRYPTION_KEYS}`));

    const body = (await (await getKeys("admin", rotated)).json()) as Record<string, unknown>;

    expect(body).toEqual({
      current_key_id: "k3",
      keys: [
        { key_id: "k3", connections: 0, configured: true, write_ahead_copies: 0, webhook_secrets: 0 },
        { key_id: "k2", connections: 2, configured: true, write_ahead_copies: 0, webhook_secrets: 0 },
        { key_id: "k1", connections: 1, configured: true, write_ahead_copies: 0, webhook_secrets: 0 },
      ],
      remaining_to_re_encrypt: 3,
    });
  });

  it("counts a write-ahead copy left by a failed D1 write under its key, and as remaining once another key is first", async () => {
    const oidc = await connectLocalOidc("admin-write-ahead");
    await failNextConnectionWrite(oidc.userId);
    await vendOk(oidc, { force_refresh: true });

    const now = (await (await getKeys("admin")).json()) as { keys: unknown[]; remaining_to_re_encrypt: number };
    const rotated = (await (await getKeys("admin", appWithEnv(envWithKeys(`${K3},${TEST_ENCRYPTION_KEYS}`)))).json()) as {
      keys: unknown[];
      remaining_to_re_encrypt: number;
    };

    expect(now.keys).toContainEqual({ key_id: "k2", connections: 1, configured: true, write_ahead_copies: 1, webhook_secrets: 0 });
    expect(now.remaining_to_re_encrypt).toBe(0);
    // The row and its copy are both under k2: removing k2 from the ring now would lose the rotated refresh token.
    expect(rotated.keys).toContainEqual({ key_id: "k2", connections: 1, configured: true, write_ahead_copies: 1, webhook_secrets: 0 });
    expect(rotated.remaining_to_re_encrypt).toBe(2);
  });

  it("counts webhook endpoints' secrets per key id, and those under other keys as remaining", async () => {
    await seedConnections(1, (index) => ({ userId: `admin-webhooks-${index}`, keys: K2 }));
    await subscribeEndpointsUnder(K2, 2);
    await subscribeEndpointsUnder(K1, 3);

    const body = (await (await getKeys("admin")).json()) as Record<string, unknown>;

    expect(body).toEqual({
      current_key_id: "k2",
      keys: [
        { key_id: "k2", connections: 1, configured: true, write_ahead_copies: 0, webhook_secrets: 2 },
        { key_id: "k1", connections: 0, configured: true, write_ahead_copies: 0, webhook_secrets: 3 },
      ],
      remaining_to_re_encrypt: 3,
    });
  });

  it("lists a key that only webhook secrets still need, though it left the ring, so it is not removed too early", async () => {
    await subscribeEndpointsUnder(K3, 1);

    const body = (await (await getKeys("admin")).json()) as { keys: unknown[]; remaining_to_re_encrypt: number };

    expect(body.keys).toContainEqual({ key_id: "k3", connections: 0, configured: false, write_ahead_copies: 0, webhook_secrets: 1 });
    expect(body.remaining_to_re_encrypt).toBe(1);
  });
});
