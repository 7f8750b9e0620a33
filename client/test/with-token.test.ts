import { afterEach, describe, expect, it, vi } from "vitest";
import { isProblem, TokenRejectedError } from "../src/index.js";
import { fakeService, problem, vended } from "./fake-service.js";

afterEach(() => {
  vi.useRealTimers();
});

/** A provider's answer to a call with `token`: 401 for the tokens in `refused`, else 200 naming the token. */
function provider(refused: string[]) {
  const calls: string[] = [];
  const call = async (token: string) => {
    calls.push(token);
    return refused.includes(token) ? new Response("invalid_token", { status: 401 }) : new Response(`hello ${token}`);
  };
  return { calls, call };
}

describe("withToken", () => {
  it("calls fn with the vended token and returns its answer after one vend", async () => {
    const { client, sent } = fakeService([vended("at-1")]);
    const { calls, call } = provider([]);

    const response = await client.withToken("conn_1", call);

    expect(await response.text()).toBe("hello at-1");
    expect(calls).toEqual(["at-1"]);
    expect(sent).toHaveLength(1);
  });

  it("after a 401 Response, vends again with rejected_token and calls fn once more with the new token", async () => {
    const { client, sent } = fakeService([vended("at-old"), vended("at-new")]);
    const { calls, call } = provider(["at-old"]);

    const response = await client.withToken("conn_1", call, { required_scopes: ["api:read"], min_validity_seconds: 60 });

    expect(response.status).toBe(200);
    expect(calls).toEqual(["at-old", "at-new"]);
    expect(sent.map((request) => request.body)).toEqual([
      { required_scopes: ["api:read"], min_validity_seconds: 60 },
      { required_scopes: ["api:read"], min_validity_seconds: 60, rejected_token: "at-old" },
    ]);
  });

  it("cancels the body of the refused response, which nobody reads", async () => {
    const { client } = fakeService([vended("at-old"), vended("at-new")]);
    const refused = new Response("invalid_token", { status: 401 });

    await client.withToken("conn_1", async (token) => (token === "at-old" ? refused : new Response("ok")));

    // A cancelled body counts as used: nobody can read it any more.
    expect(refused.bodyUsed).toBe(true);
  });

  it("vends again when fn throws TokenRejectedError, and returns what the second call returns", async () => {
    const { client, sent } = fakeService([vended("at-old"), vended("at-new")]);

    const value = await client.withToken("conn_1", (token) => {
      if (token === "at-old") throw new TokenRejectedError();
      return `profile for ${token}`;
    });

    expect(value).toBe("profile for at-new");
    expect(sent[1]!.body).toEqual({ rejected_token: "at-old" });
  });

  it("reports the refused token without force_refresh: rejected_token refreshes by itself", async () => {
    const { client, sent } = fakeService([vended("at-old"), vended("at-new")]);

    await client.withToken("conn_1", provider(["at-old"]).call, { force_refresh: true });

    expect(sent.map((request) => request.body)).toEqual([{ force_refresh: true }, { rejected_token: "at-old" }]);
  });

  it("returns a second 401 as fn returned it, without a third vend", async () => {
    const { client, sent } = fakeService([vended("at-1"), vended("at-2")]);
    const { calls, call } = provider(["at-1", "at-2"]);

    const response = await client.withToken("conn_1", call);

    expect(response.status).toBe(401);
    expect(calls).toEqual(["at-1", "at-2"]);
    expect(sent).toHaveLength(2);
  });

  it("throws a second TokenRejectedError as fn threw it, without a third vend", async () => {
    const { client, sent } = fakeService([vended("at-1"), vended("at-2")]);

    await expect(
      client.withToken("conn_1", () => {
        throw new TokenRejectedError("still refused");
      }),
    ).rejects.toThrow("still refused");
    expect(sent).toHaveLength(2);
  });

  it("passes fn's other errors and non-401 answers through without vending again", async () => {
    const { client, sent } = fakeService([vended("at-1"), vended("at-2")]);

    await expect(client.withToken("conn_1", () => Promise.reject(new Error("provider down")))).rejects.toThrow("provider down");
    expect((await client.withToken("conn_1", async () => new Response(null, { status: 403 }))).status).toBe(403);
    expect(sent).toHaveLength(2);
  });

  it("waits out a Retry-After of up to 30 s on the second vend", async () => {
    vi.useFakeTimers();
    const { client, sent } = fakeService([
      vended("at-old"),
      problem(503, "service-unavailable", { "Retry-After": "30" }),
      vended("at-new"),
    ]);
    const { calls, call } = provider(["at-old"]);

    const pending = client.withToken("conn_1", call);
    await vi.advanceTimersByTimeAsync(30_000);

    expect((await pending).status).toBe(200);
    expect(calls).toEqual(["at-old", "at-new"]);
    expect(sent.map((request) => request.body)).toEqual([{}, { rejected_token: "at-old" }, { rejected_token: "at-old" }]);
  });

  it("throws the 503 as a ProblemError when the second vend's Retry-After is longer than 30 s, without calling fn again", async () => {
    const { client } = fakeService([vended("at-old"), problem(503, "service-unavailable", { "Retry-After": "45" })]);
    const { calls, call } = provider(["at-old"]);

    const error = await client.withToken("conn_1", call).catch((caught: unknown) => caught);

    expect(isProblem(error, "service-unavailable")).toBe(true);
    expect(error).toMatchObject({ retryAfterSeconds: 45 });
    expect(calls).toEqual(["at-old"]);
  });
});
