import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { WebhookVerificationError, WebhookVerifier } from "../src/index.js";

const SECRET = `whsec_${Buffer.from("0123456789abcdef0123456789abcdef").toString("base64")}`;
const OTHER_SECRET = `whsec_${Buffer.from("fedcba9876543210fedcba9876543210").toString("base64")}`;

const EVENT = {
  type: "connection.deleted",
  timestamp: "2026-11-30T12:00:00.000Z",
  data: { user_id: "user-1", reason: "user", connection: { id: "conn_1", provider: "local-oidc", status: "active" } },
};

/** A delivery as the service signs it: the body and its three Standard Webhooks headers. */
function delivery(secret: string, body = JSON.stringify(EVENT), at = new Date()) {
  const id = "msg_2mNw0Sb8Tq0yJ1k9";
  const signature = new Webhook(secret).sign(id, at, body);
  return {
    body,
    headers: { "webhook-id": id, "webhook-timestamp": String(Math.floor(at.getTime() / 1000)), "webhook-signature": signature },
  };
}

describe("WebhookVerifier", () => {
  it("returns the event with its webhook-id when the signature matches", () => {
    const { body, headers } = delivery(SECRET);

    expect(new WebhookVerifier(SECRET).verify(body, new Headers(headers))).toEqual({ id: "msg_2mNw0Sb8Tq0yJ1k9", ...EVENT });
  });

  it("takes Node's request headers as they come (IncomingHttpHeaders, absent members included)", () => {
    const { body, headers } = delivery(SECRET);

    const event = new WebhookVerifier(SECRET).verify(body, {
      ...headers,
      "x-forwarded-for": ["10.0.0.1", "10.0.0.2"],
      "x-absent": undefined,
    });

    expect(event.type).toBe("connection.deleted");
  });

  it("accepts a delivery that carries a rotated secret's signature beside the current one", () => {
    const { body, headers } = delivery(SECRET);
    const previous = delivery(OTHER_SECRET).headers["webhook-signature"];

    const event = new WebhookVerifier(OTHER_SECRET).verify(body, {
      ...headers,
      "webhook-signature": `${headers["webhook-signature"]} ${previous}`,
    });

    expect(event.data.user_id).toBe("user-1");
  });

  it.each([
    ["another secret's signature", () => ({ ...delivery(OTHER_SECRET) })],
    ["a body changed after signing", () => ({ ...delivery(SECRET), body: JSON.stringify({ ...EVENT, type: "user.erased" }) })],
    ["a timestamp more than 5 minutes old", () => delivery(SECRET, JSON.stringify(EVENT), new Date(Date.now() - 6 * 60_000))],
    [
      "no signature",
      () => ({
        body: JSON.stringify(EVENT),
        headers: { "webhook-id": "msg_1", "webhook-timestamp": String(Math.floor(Date.now() / 1000)) },
      }),
    ],
  ])("refuses %s with WebhookVerificationError", (_case, make) => {
    const { body, headers } = make();

    expect(() => new WebhookVerifier(SECRET).verify(body, headers)).toThrow(WebhookVerificationError);
  });
});
