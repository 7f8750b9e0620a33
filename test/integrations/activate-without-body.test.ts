import { describe, expect, it } from "vitest";
import { connectGoogle, integration } from "../support/integration-helpers";
import { service } from "../support/toolkit";
import { newUserId } from "../support/users";

const CALENDAR = "https://www.googleapis.com/auth/calendar.events";

describe("activating an integration without a body", () => {
  it("activates on the user's only fitting connection, as an empty JSON body would", async () => {
    const user = newUserId("int-no-body");
    const connectionId = await connectGoogle(user, { scopes: [CALENDAR] });

    const response = await service.call(user, "/v1/integrations/google-calendar/activate", { method: "POST" });

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "active" });
    expect(await integration(user, "google-calendar")).toMatchObject({ status: "active", connection_id: connectionId });
  });
});
