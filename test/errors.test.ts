import { describe, expect, it } from "vitest";
import { ProblemError, problemBody, problemResponse } from "../src/errors";

describe("problem responses", () => {
  it("names the instance when one is given", () => {
    expect(problemBody(new ProblemError("not-found"), "/v1/x").instance).toBe("/v1/x");
    expect(problemBody(new ProblemError("not-found"))).not.toHaveProperty("instance");
  });

  it("carries no request id when there is none", async () => {
    const response = problemResponse(new ProblemError("not-found"));
    expect(response.headers.has("X-Request-Id")).toBe(false);
    expect(await response.json()).not.toHaveProperty("request_id");
  });

  it("keeps a 401's own WWW-Authenticate challenge", () => {
    const challenge = 'Bearer realm="connection-manager", error="invalid_token"';
    const response = problemResponse(new ProblemError("unauthorized", "x", { headers: { "WWW-Authenticate": challenge } }), "rid");
    expect(response.headers.get("WWW-Authenticate")).toBe(challenge);
    expect(response.headers.get("X-Request-Id")).toBe("rid");
  });
});
