import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { apiClient } from "../support/api-client";
import { appWithEnv } from "../support/app-with-env";
import { failingDatabase } from "../support/failing-db";
import { expectProblem } from "../support/problems";

afterEach(() => {
  vi.restoreAllMocks();
});

function errorLines(spy: { mock: { calls: unknown[][] } }): Array<Record<string, unknown>> {
  return spy.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
}

describe("storage failures", () => {
  it("an audit write that fails is logged and does not change the response", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const db = failingDatabase(env.DB, { batch: () => Promise.reject(new RangeError("D1 batch failed")) });
    const call = appWithEnv({ ...env, DB: db });

    // A refused token records an `auth.failed` event, written before the response leaves.
    const response = await call("/v1/connections", { headers: { Authorization: "Bearer a.b.c" } });

    expect(response.status).toBe(401);
    expect(errorLines(error)).toEqual([{ message: "audit write failed", events: 1, error: "RangeError" }]);
  });

  it("names a non-Error thrown by the audit write by its type", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const db = failingDatabase(env.DB, { batch: () => Promise.reject("D1 said no") });

    const response = await appWithEnv({ ...env, DB: db })("/v1/connections", { headers: { Authorization: "Bearer a.b.c" } });

    expect(response.status).toBe(401);
    expect(errorLines(error)).toEqual([{ message: "audit write failed", events: 1, error: "string" }]);
  });

  it("an unexpected error answers 500 without its message and logs where it failed", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const db = failingDatabase(env.DB, {
      prepare: () => {
        throw new TypeError("query failed: secret=do-not-leak");
      },
    });
    const call = appWithEnv({ ...env, DB: db });

    const response = await apiClient(call).call("storage-failure-user", "/v1/connections");

    const problem = await expectProblem(response, 500, "internal");
    expect(problem.request_id).toEqual(expect.any(String));
    expect(JSON.stringify(problem)).not.toContain("do-not-leak");
    const unhandled = errorLines(error).filter((line) => line.message === "unhandled error");
    expect(unhandled).toEqual([{ message: "unhandled error", error: "TypeError", stack: expect.any(String) }]);
    expect(JSON.stringify(error.mock.calls)).not.toContain("do-not-leak");
  });
});
