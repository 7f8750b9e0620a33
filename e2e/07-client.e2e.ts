/**
 * The typed client (client/, built as the package an application installs) against the service under `wrangler dev`
 * and the local issuers: a connect session whose link opens the page, vending, `withToken` recovering from the
 * provider's real 401 (the mock Google's userinfo, for an access token it ended early) with exactly one refresh there, a `503` waited out after its `Retry-After`, typed problems, and
 * a real webhook delivery verified by the client's `WebhookVerifier`.
 */
import {
  createConnectionManagerClient,
  isProblem,
  WebhookVerifier,
  type ConnectionManagerClient,
  type ConnectionManagerOptions,
} from "@connection-manager/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callerToken } from "../test/support/caller-token";
import { newUserId } from "../test/support/users";
import {
  connectLocalOidc,
  connectMock,
  endpoints,
  expireAccessToken,
  newBrowser,
  refreshGrants,
  scriptTokenResponses,
  userinfoStatus,
} from "./support/service";
import { WebhookReceiver } from "./support/webhook-receiver";

/** The client as an application's backend builds it for one user: a caller JWT signed for each request. */
function clientFor(userId: string, scope: string, options: Partial<ConnectionManagerOptions> = {}): ConnectionManagerClient {
  return createConnectionManagerClient({
    baseUrl: endpoints().serviceOrigin,
    callerToken: () => callerToken(userId, { scope }),
    ...options,
  });
}

/** The application's backend, for `userId`: it vends tokens and asks for connect links. */
function backendFor(userId: string, options: Partial<ConnectionManagerOptions> = {}): ConnectionManagerClient {
  return clientFor(userId, "connections:token", options);
}

describe("the typed client against wrangler dev", () => {
  it("creates a connect session whose link opens the connect page naming the user", async () => {
    const userId = newUserId("client-e2e-session");

    const session = await backendFor(userId).createConnectSession({
      providers: ["local-oidc"],
      end_user: { display_name: "Ada Lovelace" },
    });

    expect(new URL(session.connect_url).origin).toBe(endpoints().serviceOrigin);
    const page = await newBrowser().request(session.connect_url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Connecting accounts for Ada Lovelace");
  });

  it("vends the token of a connection made at the local issuer, and the issuer honours it", async () => {
    const { userId, connection } = await connectLocalOidc(newUserId("client-e2e-vend"));

    const token = await backendFor(userId).vend(connection.id, { min_validity_seconds: 0 });

    expect(token).toMatchObject({ token_type: "Bearer", scopes: expect.arrayContaining(["openid"]) });
    expect(await userinfoStatus(token.access_token)).toBe(200);
  });

  it("withToken recovers from the provider's 401 for a token it ended early with exactly one refresh there", async () => {
    const { userId, connection, flow } = await connectMock(newUserId("client-e2e-with-token"), "google");
    const client = backendFor(userId);
    const stored = await client.vend(connection.id);
    // The provider ends that access token (a password change, a security event); the grant lives on.
    await expireAccessToken(flow, stored.access_token);
    const tokensUsed: string[] = [];

    const response = await client.withToken(connection.id, (token) => {
      tokensUsed.push(token);
      return fetch(`${endpoints().mockProviderOrigin}/google/userinfo`, { headers: { Authorization: `Bearer ${token}` } });
    });

    expect(response.status).toBe(200);
    expect(tokensUsed).toHaveLength(2);
    expect(tokensUsed[0]).toBe(stored.access_token);
    expect(tokensUsed[1]).not.toBe(stored.access_token);
    expect(await refreshGrants(flow)).toHaveLength(1);
  });

  it("vend waits out the 503's Retry-After after a transient refresh failure, then gets the next refresh's token", async () => {
    const { userId, connection, flow } = await connectMock(newUserId("client-e2e-retry-after"), "google");
    await scriptTokenResponses(flow, [{ failure: "server_error_html" }]);
    const answered: { status: number; retryAfter: string | null }[] = [];
    const client = backendFor(userId, {
      fetch: async (request) => {
        const response = await fetch(request);
        answered.push({ status: response.status, retryAfter: response.headers.get("retry-after") });
        return response;
      },
    });

    const token = await client.vend(connection.id, { force_refresh: true });

    expect(answered).toEqual([
      { status: 503, retryAfter: expect.stringMatching(/^\d+$/) },
      { status: 200, retryAfter: null },
    ]);
    expect(Number(answered[0]!.retryAfter)).toBeLessThanOrEqual(30);
    expect(token.access_token).not.toBe("");
    // The failed refresh and the one after the cooldown: nothing reached the provider while the client waited.
    expect(await refreshGrants(flow)).toHaveLength(2);
  });

  it("throws the service's problems as typed errors: another user's connection is not-found", async () => {
    const { connection } = await connectLocalOidc(newUserId("client-e2e-owner"));

    const error = await backendFor(newUserId("client-e2e-stranger"))
      .vend(connection.id)
      .catch((caught: unknown) => caught);

    expect(isProblem(error, "not-found")).toBe(true);
    expect(error).toMatchObject({ status: 404, requestId: expect.any(String) });
  });
});

describe("the client's WebhookVerifier on real deliveries", () => {
  const operator = clientFor(newUserId("client-e2e-operator"), "admin");
  let receiver: WebhookReceiver;
  let subscription: { id: string; secret: string };

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    const { data, error } = await operator.api.POST("/v1/admin/webhooks", {
      body: { url: receiver.url, events: ["webhook.test"], description: "client e2e" },
    });
    if (!data) throw new Error(`subscribing the receiver: ${JSON.stringify(error)}`);
    subscription = data;
  });

  afterAll(async () => {
    await operator.api.DELETE("/v1/admin/webhooks/{id}", { params: { path: { id: subscription.id } } });
    await receiver.close();
  });

  /** Asks the service to send the subscription a `webhook.test` event. */
  async function sendTestEvent(): Promise<void> {
    const { response } = await operator.api.POST("/v1/admin/webhooks/{id}/test", { params: { path: { id: subscription.id } } });
    expect(response.status).toBe(202);
  }

  it("refuses a delivery under another secret, and returns the typed event under the subscription's own", async () => {
    const otherSecret = `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
    receiver.verifyWith(new WebhookVerifier(otherSecret));
    await sendTestEvent();
    await receiver.until("a refused delivery", () => receiver.attempts.find((attempt) => attempt.status === 400));

    const verifier = new WebhookVerifier(subscription.secret);
    receiver.verifyWith(verifier);
    await sendTestEvent();
    const accepted = await receiver.until("a verified webhook.test", () =>
      receiver.accepted.find((event) => event.type === "webhook.test"),
    );

    expect(accepted).toMatchObject({ type: "webhook.test", data: { user_id: null } });
    expect(accepted.id).toMatch(/^msg_/);
  });
});
