import { describe, expect, it } from "vitest";
import { authHeaders } from "../support/caller-token";
import { connectGoogle, freshUser, integration } from "../support/integration-helpers";
import { callWorker } from "../support/worker";

const CALENDAR = "https://www.googleapis.com/auth/calendar.events";

describe("activating an integration without a body", () => {
  it("activates on the user's only fitting connection, as an empty JSON body would", async () => {
    const user = freshUser("int-no-body");
    const connectionId = await connectGoogle(user, { scopes: [CALENDAR] });

    const response = await callWorker("/v1/integrations/google-calendar/activate", { method: "POST", headers: await authHeaders(user) });

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "active" });
    expect(await integration(user, "google-calendar")).toMatchObject({ status: "active", connection_id: connectionId });
  });
});
