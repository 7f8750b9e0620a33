/**
 * Signatures, checked by an independent implementation: the receiving side verifies with the `standardwebhooks`
 * package's `Webhook` class (Standard Webhooks' reference library for JavaScript), as a receiver would.
 */
import { Webhook } from "standardwebhooks";
import { describe, expect, it, vi } from "vitest";
import { generateWebhookSecret } from "../../src/webhooks/secret";
import { signatureHeaders } from "../../src/webhooks/signature";
import {
  attemptDeliveries,
  fanOutRecorded,
  isolateDeliveryTests,
  publishTestEvent,
  receiver,
  recordingWebhookQueue,
  subscribeEndpoint,
  verifiedPayload,
} from "../support/webhooks";

// The consumer's summary line per batch is asserted in delivery.test.ts.
isolateDeliveryTests();

const FIVE_MINUTES_S = 5 * 60;

/** One signed attempt as the consumer signs it, at `timestamp` (Unix seconds). */
async function signed(secrets: string[], body: string, timestamp = Math.floor(Date.now() / 1000)) {
  return { body, headers: await signatureHeaders({ id: "msg_signature-test", timestamp, body }, secrets) };
}

describe("a delivery's signature", () => {
  it("is accepted by the standardwebhooks verifier with the endpoint's secret, over the exact body received", async () => {
    const inbox = receiver();
    const endpoint = await subscribeEndpoint(inbox.url);
    const queue = recordingWebhookQueue();
    await publishTestEvent(queue, endpoint.id);

    await attemptDeliveries(queue, await fanOutRecorded(queue));

    const [request] = await inbox.requests();
    expect(request!.headers["webhook-id"]).toMatch(/^msg_/);
    expect(verifiedPayload(request!, endpoint.secret)).toMatchObject({ type: "webhook.test", data: { user_id: null } });
  });

  it("carries two signatures during a rotation's overlap, and the verifier accepts the delivery with either secret", async () => {
    const inbox = receiver();
    const endpoint = await subscribeEndpoint(inbox.url, { rotated: true });
    const queue = recordingWebhookQueue();
    await publishTestEvent(queue, endpoint.id);

    await attemptDeliveries(queue, await fanOutRecorded(queue));

    const [request] = await inbox.requests();
    expect(request!.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    expect(verifiedPayload(request!, endpoint.secret)).toMatchObject({ type: "webhook.test" });
    expect(verifiedPayload(request!, endpoint.previousSecret!)).toMatchObject({ type: "webhook.test" });
    expect(() => verifiedPayload(request!, generateWebhookSecret())).toThrow("No matching signature found");
  });

  it("is refused by the verifier once the body was tampered with", async () => {
    const secret = generateWebhookSecret();
    const { headers } = await signed([secret], '{"type":"webhook.test","data":{"user_id":null}}');

    expect(() => new Webhook(secret).verify('{"type":"webhook.test","data":{"user_id":"someone-else"}}', headers)).toThrow(
      "No matching signature found",
    );
  });

  it("is refused by the verifier when its timestamp is more than 5 minutes old, though the signature matches", async () => {
    const secret = generateWebhookSecret();
    const stale = await signed([secret], "{}", Math.floor(Date.now() / 1000) - FIVE_MINUTES_S - 60);

    expect(() => new Webhook(secret).verify(stale.body, stale.headers)).toThrow("Message timestamp too old");
  });

  it("is made afresh for each attempt: a retry an hour later carries that hour's timestamp and is accepted then", async () => {
    const inbox = receiver({ status: "500" });
    const endpoint = await subscribeEndpoint(inbox.url);
    const queue = recordingWebhookQueue();
    await publishTestEvent(queue, endpoint.id);
    const [delivery] = await fanOutRecorded(queue);

    await attemptDeliveries(queue, [delivery!], 1);
    const anHourLater = Date.now() + 3_600_000;
    vi.spyOn(Date, "now").mockReturnValue(anHourLater);
    await attemptDeliveries(queue, [delivery!], 5);

    const [first, retry] = await inbox.requests();
    expect(retry!.headers["webhook-id"]).toBe(first!.headers["webhook-id"]);
    expect(retry!.body).toBe(first!.body);
    expect(Number(retry!.headers["webhook-timestamp"])).toBe(Math.floor(anHourLater / 1000));
    // The verifier reads the clock too: an hour on, the first attempt's signature is stale, the retry's is not.
    expect(verifiedPayload(retry!, endpoint.secret)).toMatchObject({ type: "webhook.test" });
    expect(() => verifiedPayload(first!, endpoint.secret)).toThrow("Message timestamp too old");
  });
});
