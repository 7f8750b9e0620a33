/**
 * Signing secrets as the delivery reads them (`activeSigningSecrets`) and the endpoints an event goes to
 * (`endpointsSubscribedTo`), through the service functions with `now` driven by the test: no sleeping through the
 * 24-hour overlap of a rotation.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CRON_ORIGIN } from "../../src/audit/audit-sink";
import type { WebhookEventType } from "../../src/events/event-types";
import { createServices, type Services } from "../../src/services";
import { database } from "../../src/storage/database";
import { updateWebhookEndpoint } from "../../src/storage/webhook-endpoints";
import {
  activeSigningSecrets,
  changeSubscription,
  endpointsSubscribedTo,
  PREVIOUS_SECRET_OVERLAP_MS,
  rotateSigningSecret,
  WebhookSecretUnavailableError,
} from "../../src/webhooks/endpoints";
import { K3 } from "../support/seed-connections";
import { deleteAllWebhookEndpoints, endpointUnderKeys, storedEndpoint, subscribeEndpoint, type Subscribed } from "../support/webhooks";

const T0 = Date.parse("2026-03-01T12:00:00.000Z");
const HOUR = 60 * 60_000;
const RECEIVER = "https://receiver.example.com/hooks";

/** The services of the Worker with the test bindings (ring `k2,k1`). */
function services(): Services {
  return createServices(env, CRON_ORIGIN);
}

function newEndpoint(events: readonly WebhookEventType[] | null = null): Promise<Subscribed> {
  return subscribeEndpoint(RECEIVER, { events, now: T0 });
}

async function secretsAt(id: string, now: number): Promise<string[]> {
  return activeSigningSecrets(services(), (await storedEndpoint(id))!, now);
}

beforeEach(deleteAllWebhookEndpoints);
afterEach(() => {
  vi.restoreAllMocks();
});

describe("activeSigningSecrets", () => {
  it("is the endpoint's one secret before any rotation", async () => {
    const endpoint = await newEndpoint();

    expect(await secretsAt(endpoint.id, T0)).toEqual([endpoint.secret]);
  });

  it("after a rotation, is the new secret and the previous one for 24 hours, then the new one alone", async () => {
    const endpoint = await newEndpoint();
    const rotatedAt = T0 + HOUR;

    const secret = (await rotateSigningSecret(services(), endpoint.id, rotatedAt))!;

    expect(await secretsAt(endpoint.id, rotatedAt)).toEqual([secret, endpoint.secret]);
    expect(await secretsAt(endpoint.id, rotatedAt + PREVIOUS_SECRET_OVERLAP_MS - 1)).toEqual([secret, endpoint.secret]);
    expect(await secretsAt(endpoint.id, rotatedAt + PREVIOUS_SECRET_OVERLAP_MS)).toEqual([secret]);
    expect(PREVIOUS_SECRET_OVERLAP_MS).toBe(24 * HOUR);
  });

  it("after a second rotation within the overlap, the first secret signs no more", async () => {
    const endpoint = await newEndpoint();
    const second = (await rotateSigningSecret(services(), endpoint.id, T0 + HOUR))!;

    const third = (await rotateSigningSecret(services(), endpoint.id, T0 + 2 * HOUR))!;

    expect(await secretsAt(endpoint.id, T0 + 2 * HOUR)).toEqual([third, second]);
    expect(await secretsAt(endpoint.id, T0 + 2 * HOUR + PREVIOUS_SECRET_OVERLAP_MS)).toEqual([third]);
  });

  it("does not change when the endpoint's url, events or state change", async () => {
    const endpoint = await newEndpoint();
    const secret = (await rotateSigningSecret(services(), endpoint.id, T0))!;

    await changeSubscription(
      services(),
      endpoint.id,
      { url: "https://moved.example.com/", events: ["user.erased"], enabled: false },
      T0 + 1,
    );

    expect(await secretsAt(endpoint.id, T0 + 2)).toEqual([secret, endpoint.secret]);
  });

  it("throws, naming the endpoint and the reason but no secret, when the current secret is under a key the ring lacks", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const endpoint = await endpointUnderKeys(K3, T0);

    const failure = await secretsAt(endpoint.id, T0).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(WebhookSecretUnavailableError);
    expect(failure).toMatchObject({ endpointId: endpoint.id, reason: "unknown_key" });
    const key = endpoint.secret.slice("whsec_".length);
    expect(String((failure as Error).message)).not.toContain(key);
    expect(errors.mock.calls.flat().join(" ")).not.toContain(key);
    expect(errors.mock.calls.map(([line]) => JSON.parse(String(line)) as unknown)).toContainEqual({
      message: "webhook secret does not decrypt",
      endpointId: endpoint.id,
      which: "current",
      keyId: "k3",
      reason: "unknown_key",
    });
  });

  it("does not decrypt a secret copied from another endpoint's row", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const donor = await newEndpoint();
    const target = await newEndpoint();
    const donorRow = (await storedEndpoint(donor.id))!;
    const targetRow = (await storedEndpoint(target.id))!;
    await updateWebhookEndpoint(
      database(env.DB),
      { id: target.id, expectedVersion: targetRow.version },
      { secretCiphertext: donorRow.secretCiphertext },
    );

    const failure = await secretsAt(target.id, T0).catch((error: unknown) => error);

    expect(failure).toMatchObject({ name: "WebhookSecretUnavailableError", endpointId: target.id, reason: "authentication_failed" });
  });

  it("leaves out a previous secret that does not decrypt, and still signs with the current one", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const endpoint = await newEndpoint();
    const secret = (await rotateSigningSecret(services(), endpoint.id, T0))!;
    const row = (await storedEndpoint(endpoint.id))!;
    const other = await newEndpoint();
    await updateWebhookEndpoint(
      database(env.DB),
      { id: endpoint.id, expectedVersion: row.version },
      { previousSecretCiphertext: (await storedEndpoint(other.id))!.secretCiphertext },
    );

    expect(await secretsAt(endpoint.id, T0)).toEqual([secret]);
  });
});

describe("rotating a secret that no longer decrypts", () => {
  it("gives the endpoint a new secret without keeping the unreadable one", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const endpoint = await endpointUnderKeys(K3, T0);

    const secret = (await rotateSigningSecret(services(), endpoint.id, T0))!;

    expect(await secretsAt(endpoint.id, T0)).toEqual([secret]);
    expect(await storedEndpoint(endpoint.id)).toMatchObject({ keyId: "k2", previousSecretCiphertext: null, previousSecretExpiresAt: null });
  });
});

describe("endpointsSubscribedTo", () => {
  it("is the enabled endpoints that list the type or take every type", async () => {
    const everything = await newEndpoint();
    const deletions = await newEndpoint(["connection.deleted", "user.erased"]);
    await newEndpoint(["connection.created"]);
    const paused = await newEndpoint(["connection.deleted"]);
    await changeSubscription(services(), paused.id, { enabled: false }, T0);

    const subscribed = await endpointsSubscribedTo(services(), "connection.deleted");

    expect(subscribed.map((endpoint) => endpoint.id).sort()).toEqual([everything.id, deletions.id].sort());
  });

  it("leaves out an endpoint a 410 disabled until it is enabled again", async () => {
    const endpoint = await newEndpoint();
    const row = (await storedEndpoint(endpoint.id))!;
    await updateWebhookEndpoint(
      database(env.DB),
      { id: endpoint.id, expectedVersion: row.version },
      { enabled: false, disabledReason: "gone" },
    );
    expect(await endpointsSubscribedTo(services(), "webhook.test")).toEqual([]);

    await changeSubscription(services(), endpoint.id, { enabled: true }, T0);

    expect((await endpointsSubscribedTo(services(), "webhook.test")).map((found) => found.id)).toEqual([endpoint.id]);
  });
});
