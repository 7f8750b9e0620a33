/**
 * The example backend (examples/backend) as its README runs it, here against the service under `wrangler dev` and the
 * local oidc-provider: it hands a user a connect link, calls the issuer's userinfo endpoint with the user's token,
 * receives the connection's events verified by the client, and removes its own webhook subscription when it stops.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startExampleBackend, type ExampleBackend } from "../examples/backend/app";
import { LOCAL_OIDC_ID, TEST_JWT_SECRET } from "../test/support/bindings";
import { newUserId } from "../test/support/users";
import { apiJson, connectLocalOidc, endpoints, newBrowser } from "./support/service";

let backend: ExampleBackend;
const logged: string[] = [];

beforeAll(async () => {
  backend = await startExampleBackend({
    serviceUrl: endpoints().serviceOrigin,
    jwt: { secret: TEST_JWT_SECRET },
    provider: LOCAL_OIDC_ID,
    providerIssuer: endpoints().oidcIssuer,
    port: 0,
    appOrigin: endpoints().appOrigin,
    log: (line) => logged.push(line),
  });
});

afterAll(async () => {
  await backend.close();
});

/** The admin API's subscriptions, to see the backend's own come and go. */
async function subscribedUrls(): Promise<string[]> {
  const { webhooks } = await apiJson<{ webhooks: { url: string }[] }>("e2e-example-operator", "/v1/admin/webhooks", { scope: "admin" });
  return webhooks.map((webhook) => webhook.url);
}

describe("the example backend", () => {
  it("redirects a user to a connect page that names them", async () => {
    const userId = newUserId("example-connect");

    const link = await fetch(`${backend.url}/connect?user=${encodeURIComponent(userId)}`, { redirect: "manual" });

    expect(link.status).toBe(303);
    const connectUrl = new URL(link.headers.get("location")!);
    expect(connectUrl.origin).toBe(endpoints().serviceOrigin);
    const page = await newBrowser().request(connectUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`Connecting accounts for ${userId}`);
  });

  it("sends a user without a connection to connect first, then calls the issuer's userinfo with their token", async () => {
    const userId = newUserId("example-profile");
    const profileUrl = `${backend.url}/profile?user=${encodeURIComponent(userId)}`;
    const before = await fetch(profileUrl);
    expect(before.status).toBe(404);
    expect(await before.json()).toMatchObject({ connect: `/connect?user=${userId}` });

    const { connection, flow: account } = await connectLocalOidc(userId);
    const after = await fetch(profileUrl);

    expect(after.status).toBe(200);
    expect(await after.json()).toMatchObject({ connection: connection.id, userinfo: { sub: account, email: `${account}@example.com` } });
  });

  it("receives the connection's events, verified by the client", async () => {
    const userId = newUserId("example-webhooks");
    const { connection } = await connectLocalOidc(userId);

    const created = await vi.waitFor(
      () => {
        const event = backend.received.find((candidate) => candidate.data.user_id === userId);
        expect(event).toBeDefined();
        return event!;
      },
      { timeout: 60_000, interval: 200 },
    );

    expect(created).toMatchObject({
      type: "connection.created",
      id: expect.stringMatching(/^msg_/),
      data: { connection: { id: connection.id } },
    });
    expect(logged).toContain(`webhook connection.created user=${userId} connection=${connection.id} (verified)`);
  });

  it("removes its own webhook subscription when it stops", async () => {
    const ownUrl = `${backend.url}/webhooks`;
    expect(await subscribedUrls()).toContain(ownUrl);

    await backend.close();

    expect(await subscribedUrls()).not.toContain(ownUrl);
  });
});
