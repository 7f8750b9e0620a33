/**
 * Integration events at their sources: an activation (at once, or in the callback of the authorization it needed), a
 * deactivation, and a disconnect that takes the connection's integrations with it.
 */
import { describe, expect, it } from "vitest";
import type { Connection } from "../support/api-client";
import { connectAccount, finishInBrowser } from "../support/connect-flow";
import { activateOk, deactivate } from "../support/integration-helpers";
import { newMockId } from "../support/mock-control";
import { newUserId } from "../support/users";
import { publishedTypes, takePublished, webhookHarness, type WebhookHarness } from "../support/webhooks";

const CALENDAR = "https://www.googleapis.com/auth/calendar.events";

/** A new user with a recording webhook queue and a Google connection (with `scopes`), its connect events taken. */
async function userWithGoogle(
  label: string,
  scopes?: string[],
): Promise<{ userId: string; harness: WebhookHarness; connection: Connection }> {
  const userId = newUserId(label);
  const harness = await webhookHarness(userId);
  const response = await connectAccount(harness.service, harness.browser(), userId, "google", {
    providerParams: { mock_flow: newMockId(label) },
    ...(scopes === undefined ? {} : { scopes }),
  });
  expect(response.status, await response.clone().text()).toBe(200);
  harness.queue.take();
  return { userId, harness, connection: ((await response.json()) as { connection: Connection }).connection };
}

describe("activating an integration", () => {
  it("publishes integration.activated with the integration's key and its connection when the scopes are there", async () => {
    const { userId, harness, connection } = await userWithGoogle("ev-activate", [CALENDAR]);

    expect(await activateOk(userId, "google-calendar", {}, harness.app)).toEqual({ status: "active" });

    expect(takePublished(harness.queue).map((event) => event.payload)).toEqual([
      expect.objectContaining({
        type: "integration.activated",
        data: { user_id: userId, integration: "google-calendar", connection },
      }),
    ]);
  });

  it("publishes integration.activated in the callback of the authorization it needed, after scopes_changed", async () => {
    const { userId, harness, connection } = await userWithGoogle("ev-activate-later");

    const answer = await activateOk(userId, "google-calendar", {}, harness.app);
    expect(publishedTypes(harness.queue)).toEqual([]);
    const { callback } = await finishInBrowser(harness.browser(), (answer as { authorization_url: string }).authorization_url, {
      mock_flow: newMockId("ev-activate-later"),
    });

    expect(callback.status).toBe(200);
    const events = takePublished(harness.queue).map((event) => event.payload);
    expect(events.map((event) => event.type)).toEqual(["connection.scopes_changed", "integration.activated"]);
    expect(events[1]!.data).toMatchObject({ integration: "google-calendar", connection: { id: connection.id } });
    expect(events[1]!.data.connection!.scopes).toContain(CALENDAR);
  });
});

describe("deactivating an integration", () => {
  it("publishes integration.deactivated with its key", async () => {
    const { userId, harness } = await userWithGoogle("ev-deactivate", [CALENDAR]);
    await activateOk(userId, "google-calendar", {}, harness.app);
    harness.queue.take();

    expect((await deactivate(userId, "google-calendar", harness.app)).status).toBe(200);

    expect(takePublished(harness.queue).map((event) => event.payload)).toEqual([
      expect.objectContaining({ type: "integration.deactivated", data: { user_id: userId, integration: "google-calendar" } }),
    ]);
  });

  it("happens with the disconnect of the integration's connection, which publishes both", async () => {
    const { userId, harness, connection } = await userWithGoogle("ev-deactivate-with", [CALENDAR]);
    await activateOk(userId, "google-calendar", {}, harness.app);
    harness.queue.take();

    await harness.service.call(userId, `/v1/connections/${connection.id}`, { method: "DELETE" });

    expect(takePublished(harness.queue).map((event) => [event.payload.type, event.payload.data.integration ?? null])).toEqual([
      ["connection.deleted", null],
      ["integration.deactivated", "google-calendar"],
    ]);
  });
});
