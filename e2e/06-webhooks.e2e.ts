/**
 * Webhooks over real HTTP: a receiver on loopback, subscribed through the admin API, gets the lifecycle events of a
 * user's connection from `wrangler dev` (its local `webhook-deliveries` queue, consumer and retries as wrangler.jsonc
 * declares them), each verified by the `standardwebhooks` library. Then the receiver answers 500 for a while (each
 * event's first attempt), and every event still arrives with the retry 30 s later, each `webhook-id` accepted once.
 */
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectProblem } from "../test/support/problems";
import { newUserId } from "../test/support/users";
import { api, apiJson, connectLocalOidc, connectMock, revokeAtIssuer, vend, vendOk } from "./support/service";
import { WebhookReceiver, type AcceptedEvent } from "./support/webhook-receiver";

const OPERATOR = newUserId("e2e-operator");
const ADMIN = { scope: "admin" } as const;

let receiver: WebhookReceiver;
let subscriptionId: string;

beforeAll(async () => {
  receiver = await WebhookReceiver.start();
  const created = await apiJson<{ id: string; secret: string }>(OPERATOR, "/v1/admin/webhooks", {
    ...ADMIN,
    method: "POST",
    body: { url: receiver.url, description: "e2e receiver" },
  });
  subscriptionId = created.id;
  receiver.verifyWith(new Webhook(created.secret));
});

afterAll(async () => {
  await api(OPERATOR, `/v1/admin/webhooks/${subscriptionId}`, { ...ADMIN, method: "DELETE" });
  await receiver.close();
});

/** Waits until the receiver accepted an event of `type` about `userId`. */
function untilEvent(userId: string, type: string): Promise<AcceptedEvent> {
  return receiver.until(`${type} for ${userId}`, () => receiver.eventsOf(userId).find((event) => event.type === type));
}

describe("a receiver subscribed through the admin API", () => {
  it("gets connection.created, needs_reauth after invalid_grant at the issuer, reauthorized and deleted, each verified", async () => {
    const userId = newUserId("e2e-webhooks");
    const { connection, flow } = await connectLocalOidc(userId);
    const created = await untilEvent(userId, "connection.created");
    expect(created.data.connection).toMatchObject({ id: connection.id, status: "active" });

    await revokeAtIssuer((await vendOk(userId, connection.id, { min_validity_seconds: 0 })).access_token);
    await expectProblem(await vend(userId, connection.id, { force_refresh: true }), 409, "needs-reauth");
    const needsReauth = await untilEvent(userId, "connection.needs_reauth");
    expect(needsReauth.data).toMatchObject({ reason: "invalid_grant", connection: { id: connection.id, status: "needs_reauth" } });

    await connectLocalOidc(userId, flow);
    const reauthorized = await untilEvent(userId, "connection.reauthorized");
    expect(reauthorized.data.connection).toMatchObject({ id: connection.id, status: "active" });

    expect((await api(userId, `/v1/connections/${connection.id}`, { method: "DELETE" })).status).toBe(204);
    const deleted = await untilEvent(userId, "connection.deleted");
    expect(deleted.data).toMatchObject({ reason: "user", connection: { id: connection.id } });

    expect(receiver.eventsOf(userId).map((event) => event.type)).toEqual([
      "connection.created",
      "connection.needs_reauth",
      "connection.reauthorized",
      "connection.deleted",
    ]);
  });

  it("gets every event it refused while down once it is back, with the same webhook-id, each accepted once", async () => {
    const userId = newUserId("e2e-webhooks-down");
    receiver.goDown();
    const google = await connectMock(userId, "google");
    await connectLocalOidc(userId);
    expect((await api(userId, `/v1/connections/${google.connection.id}`, { method: "DELETE" })).status).toBe(204);
    // Each of the three events met the outage once.
    const refused = await receiver.until("three refused events", () => {
      const ids = new Set(receiver.attempts.filter((attempt) => attempt.status === 500).map((attempt) => attempt.id));
      return ids.size >= 3 ? ids : undefined;
    });
    receiver.recover();

    const events = await receiver.until("the three events after the outage", () => {
      const of = receiver.eventsOf(userId);
      return of.length >= 3 ? of : undefined;
    });

    expect(events.map((event) => event.type).sort()).toEqual(["connection.created", "connection.created", "connection.deleted"]);
    expect(new Set(events.map((event) => event.id))).toEqual(refused);
    expect(receiver.accepted.filter((event) => refused.has(event.id))).toHaveLength(3);
  });
});
