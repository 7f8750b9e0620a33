import { describe, expect, it } from "vitest";
import { isProblem } from "../src/index.js";
import { fakeService, json, problem } from "./fake-service.js";

describe("createConnectSession", () => {
  it("posts the session's request and returns the link", async () => {
    const link = { connect_url: "https://connect.example.test/connect?session=s3cr3t", expires_at: "2026-11-30T12:30:00.000Z" };
    const { client, sent } = fakeService([json(201, link)]);

    const session = await client.createConnectSession({ providers: ["local-oidc"], end_user: { display_name: "Ada Lovelace" } });

    expect(session).toEqual(link);
    expect(sent).toEqual([
      {
        method: "POST",
        path: "/v1/connect-sessions",
        authorization: "Bearer jwt-1",
        body: { providers: ["local-oidc"], end_user: { display_name: "Ada Lovelace" } },
      },
    ]);
  });

  it("throws the service's problem with its members", async () => {
    const { client } = fakeService([problem(400, "unknown-offer", {}, { unknown_providers: ["myspace"] })]);

    const error = await client.createConnectSession({ providers: ["myspace"] }).catch((caught: unknown) => caught);

    expect(isProblem(error, "unknown-offer")).toBe(true);
    expect(error).toMatchObject({ body: { unknown_providers: ["myspace"] } });
  });
});
