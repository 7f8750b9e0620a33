/**
 * Key rotation of webhook signing secrets. The ring `k2,k1` of the test bindings is the state after a rotation: `k1`
 * was the only key before, `k2` has just been put first; endpoints subscribed before it are made with a `k1`-only ring.
 * A cron tick's `re_encrypt_webhooks` scan page (delivered by the test, test/support/vault-queues.ts) rewrites them
 * under `k2`; `GET /v1/admin/keys` counts them until then, so no operator removes `k1` too early.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CRON_ORIGIN } from "../../src/audit/audit-sink";
import { VAULT_QUEUES } from "../../src/queues/messages";
import { createServices, type Services } from "../../src/services";
import { activeSigningSecrets, changeSubscription, PREVIOUS_SECRET_OVERLAP_MS, rotateSigningSecret } from "../../src/webhooks/endpoints";
import { reEncryptSecrets } from "../../src/webhooks/re-encryption";
import { envWithKeys, K1, K3 } from "../support/seed-connections";
import { service } from "../support/toolkit";
import { tick, vaultQueues } from "../support/vault-queues";
import { ADMIN_TOKEN, deleteAllWebhookEndpoints, endpointUnderKeys, storedEndpoint } from "../support/webhooks";

const HOUR = 60 * 60_000;

interface KeyStatus {
  current_key_id: string;
  keys: { key_id: string; connections: number; configured: boolean; write_ahead_copies: number; webhook_secrets: number }[];
  remaining_to_re_encrypt: number;
}

function services(base: Env = env): Services {
  return createServices(base, CRON_ORIGIN);
}

function keyStatus(): Promise<KeyStatus> {
  return service.json<KeyStatus>("webhook-rotation-admin", "/v1/admin/keys", ADMIN_TOKEN);
}

function webhookSecretsUnder(status: KeyStatus, keyId: string): number | undefined {
  return status.keys.find((key) => key.key_id === keyId)?.webhook_secrets;
}

async function secretsAt(id: string, now: number): Promise<string[]> {
  return activeSigningSecrets(services(), (await storedEndpoint(id))!, now);
}

/** The webhook page's counts from a tick's log lines. */
function webhookCounts(lines: Record<string, unknown>[]): unknown {
  return lines.find((line) => line.message === `queue.${VAULT_QUEUES.scans}` && line.kind === "re_encrypt_webhooks")?.webhook_secrets;
}

beforeEach(deleteAllWebhookEndpoints);
afterEach(() => {
  vi.restoreAllMocks();
});

describe("a cron tick after a key rotation", () => {
  it("re-encrypts webhook secrets under the current key; they still sign with the same secret", async () => {
    const endpoints = [await endpointUnderKeys(K1), await endpointUnderKeys(K1)];
    const before = await keyStatus();
    expect(webhookSecretsUnder(before, "k1")).toBe(2);
    expect(before.remaining_to_re_encrypt).toBe(2);

    const done = await tick(vaultQueues());

    expect(webhookCounts(done.lines)).toEqual({ re_encrypted: 2, conflict: 0, undecryptable: 0 });
    for (const endpoint of endpoints) {
      const row = (await storedEndpoint(endpoint.id))!;
      expect(row.keyId).toBe("k2");
      expect(row.secretCiphertext).toMatch(/^v1\.k2\./);
      expect(await secretsAt(endpoint.id, Date.now())).toEqual([endpoint.secret]);
    }
    const after = await keyStatus();
    expect(webhookSecretsUnder(after, "k1")).toBe(0);
    expect(webhookSecretsUnder(after, "k2")).toBe(2);
    expect(after.remaining_to_re_encrypt).toBe(0);
  });

  it("re-encrypts a previous secret still in its overlap, so both go on signing", async () => {
    const now = Date.now();
    const endpoint = await endpointUnderKeys(K1, now - HOUR);
    const secret = (await rotateSigningSecret(services(envWithKeys(K1)), endpoint.id, now - HOUR))!;

    await tick(vaultQueues(), now);

    const row = (await storedEndpoint(endpoint.id))!;
    expect(row.previousSecretCiphertext).toMatch(/^v1\.k2\./);
    expect(row.previousSecretExpiresAt).toBe(now - HOUR + PREVIOUS_SECRET_OVERLAP_MS);
    expect(await secretsAt(endpoint.id, now)).toEqual([secret, endpoint.secret]);
  });

  it("drops a previous secret whose overlap has ended instead of carrying it under the new key", async () => {
    const now = Date.now();
    const endpoint = await endpointUnderKeys(K1, now - 2 * PREVIOUS_SECRET_OVERLAP_MS);
    const secret = (await rotateSigningSecret(services(envWithKeys(K1)), endpoint.id, now - 2 * PREVIOUS_SECRET_OVERLAP_MS))!;

    await tick(vaultQueues(), now);

    expect(await storedEndpoint(endpoint.id)).toMatchObject({ keyId: "k2", previousSecretCiphertext: null, previousSecretExpiresAt: null });
    expect(await secretsAt(endpoint.id, now)).toEqual([secret]);
  });

  it("records the progress in the audit trail", async () => {
    await endpointUnderKeys(K1);

    await tick(vaultQueues());

    const { results } = await env.DB.prepare("SELECT outcome, actor, detail FROM audit_events WHERE action = 'keys.re_encrypted'").all<{
      outcome: string;
      actor: string;
      detail: string;
    }>();
    expect(results.map((row) => ({ ...row, detail: JSON.parse(row.detail) as unknown }))).toContainEqual({
      outcome: "success",
      actor: "cron",
      detail: { target: "webhook_secrets", re_encrypted: 1, conflict: 0, undecryptable: 0, key_id: "k2" },
    });
  });

  it("leaves an endpoint whose secret no key in the ring decrypts, counted under its key, and moves the others", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const lost = await endpointUnderKeys(K3);
    const healthy = await endpointUnderKeys(K1);

    const done = await tick(vaultQueues());

    expect(webhookCounts(done.lines)).toEqual({ re_encrypted: 1, conflict: 0, undecryptable: 1 });
    expect((await storedEndpoint(healthy.id))!.keyId).toBe("k2");
    expect((await storedEndpoint(lost.id))!.keyId).toBe("k3");
    const status = await keyStatus();
    expect(status.keys).toContainEqual({ key_id: "k3", connections: 0, configured: false, write_ahead_copies: 0, webhook_secrets: 1 });
    expect(status.remaining_to_re_encrypt).toBe(1);
    expect(errors.mock.calls.flat().join(" ")).not.toContain(lost.secret.slice("whsec_".length));
  });

  it("pages through more endpoints than one page holds", async () => {
    const endpoints = await Promise.all(Array.from({ length: 53 }, () => endpointUnderKeys(K1)));

    const done = await tick(vaultQueues());

    const pages = done.lines.filter((line) => line.kind === "re_encrypt_webhooks");
    expect(pages.map((page) => page.more)).toEqual([true, false]);
    expect((await keyStatus()).remaining_to_re_encrypt).toBe(0);
    expect(webhookSecretsUnder(await keyStatus(), "k2")).toBe(endpoints.length);
  });
});

describe("re-encrypting an endpoint's secrets", () => {
  it("loses to an operator's change made meanwhile (compare-and-swap), and the next tick finishes it", async () => {
    const endpoint = await endpointUnderKeys(K1);
    const stale = (await storedEndpoint(endpoint.id))!;
    const secret = (await rotateSigningSecret(services(envWithKeys(K1)), endpoint.id, Date.now()))!;
    await changeSubscription(services(), endpoint.id, { description: "changed meanwhile" }, Date.now());

    expect(await reEncryptSecrets(services(), stale, Date.now())).toBe("conflict");
    // The rotation's secrets and the change are kept, not overwritten by the stale read.
    expect(await secretsAt(endpoint.id, Date.now())).toEqual([secret, endpoint.secret]);
    expect(await storedEndpoint(endpoint.id)).toMatchObject({ keyId: "k1", description: "changed meanwhile" });

    await tick(vaultQueues());

    expect(await storedEndpoint(endpoint.id)).toMatchObject({ keyId: "k2", description: "changed meanwhile" });
    expect(await secretsAt(endpoint.id, Date.now())).toEqual([secret, endpoint.secret]);
  });
});
