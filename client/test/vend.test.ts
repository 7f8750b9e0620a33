import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { isProblem, ProblemError } from "../src/index.js";
import { fakeService, problem, vended } from "./fake-service.js";

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

/** Lets `promise` run until it settles, moving the fake clock on by `ms` as it goes. */
async function settleAfter<T>(promise: Promise<T>, ms: number): Promise<PromiseSettledResult<T>> {
  const settled = Promise.allSettled([promise]).then(([result]) => result!);
  await vi.advanceTimersByTimeAsync(ms);
  return settled;
}

describe("vend", () => {
  it("posts the request to the connection's token endpoint with a fresh caller JWT and returns the token", async () => {
    const { client, sent } = fakeService([vended("at-1"), vended("at-2")]);

    expect((await client.vend("conn_1", { min_validity_seconds: 600, required_scopes: ["api:read"] })).access_token).toBe("at-1");
    await client.vend("conn_1");

    expect(sent).toEqual([
      {
        method: "POST",
        path: "/v1/connections/conn_1/token",
        authorization: "Bearer jwt-1",
        body: { min_validity_seconds: 600, required_scopes: ["api:read"] },
      },
      { method: "POST", path: "/v1/connections/conn_1/token", authorization: "Bearer jwt-2", body: {} },
    ]);
  });

  it("waits out a 503's Retry-After and asks again", async () => {
    const { client, sent } = fakeService([problem(503, "service-unavailable", { "Retry-After": "12" }), vended("at-after")]);

    const pending = client.vend("conn_1", { force_refresh: true });
    await vi.advanceTimersByTimeAsync(11_999);
    expect(sent).toHaveLength(1);

    const result = await settleAfter(pending, 1);
    expect(result).toEqual({ status: "fulfilled", value: expect.objectContaining({ access_token: "at-after" }) });
    expect(sent.map((request) => request.body)).toEqual([{ force_refresh: true }, { force_refresh: true }]);
  });

  it("waits again while the waits add up to at most maxRetryWaitSeconds, then throws the 503 with its Retry-After", async () => {
    const { client, sent } = fakeService([
      problem(503, "service-unavailable", { "Retry-After": "10" }),
      problem(503, "service-unavailable", { "Retry-After": "20" }),
      problem(503, "service-unavailable", { "Retry-After": "1" }),
    ]);

    const result = await settleAfter(client.vend("conn_1"), 30_000);

    expect(sent).toHaveLength(3);
    expect(result.status).toBe("rejected");
    const error = (result as PromiseRejectedResult).reason as ProblemError;
    expect(isProblem(error, "service-unavailable")).toBe(true);
    expect(error.retryAfterSeconds).toBe(1);
  });

  it("throws at once a 503 whose Retry-After is longer than maxRetryWaitSeconds", async () => {
    const { client, sent } = fakeService([problem(503, "service-unavailable", { "Retry-After": "31" })]);

    await expect(client.vend("conn_1")).rejects.toMatchObject({ type: "service-unavailable", status: 503, retryAfterSeconds: 31 });
    expect(sent).toHaveLength(1);
  });

  it("never waits with maxRetryWaitSeconds 0", async () => {
    const { client } = fakeService([problem(503, "service-unavailable", { "Retry-After": "1" })], { maxRetryWaitSeconds: 0 });

    await expect(client.vend("conn_1")).rejects.toMatchObject({ type: "service-unavailable" });
  });

  it("waits a second for Retry-After: 0, so a service repeating it cannot spin the loop", async () => {
    const { client, sent } = fakeService([problem(503, "service-unavailable", { "Retry-After": "0" }), vended("at-1")]);

    const pending = client.vend("conn_1");
    await vi.advanceTimersByTimeAsync(999);
    expect(sent).toHaveLength(1);
    expect(await settleAfter(pending, 1)).toMatchObject({ status: "fulfilled" });
  });

  it("throws a 503 without Retry-After at once", async () => {
    const { client, sent } = fakeService([problem(503, "service-unavailable")]);

    await expect(client.vend("conn_1")).rejects.toMatchObject({ type: "service-unavailable", retryAfterSeconds: undefined });
    expect(sent).toHaveLength(1);
  });

  it.each([
    [409, "needs-reauth", { connection_status: "needs_reauth" }],
    [403, "insufficient-scope", { missing_scopes: ["api:write"] }],
    [429, "rate-limited", {}],
    [502, "provider-rejected-client", {}],
  ] as const)("throws %i %s as a ProblemError with its members, without asking again", async (status, name, extensions) => {
    const headers: Record<string, string> = status === 429 ? { "Retry-After": "60" } : {};
    const { client, sent } = fakeService([problem(status, name, headers, extensions)]);

    const error = await client.vend("conn_1").catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ProblemError);
    expect(error).toMatchObject({
      type: name,
      status,
      detail: `Detail of ${name}`,
      requestId: "req-1",
      body: expect.objectContaining(extensions),
    });
    expect(sent).toHaveLength(1);
  });
});
