import { describe, expect, it } from "vitest";
import { isProblem, ProblemError, unwrap } from "../src/index.js";
import { problemFromResponse } from "../src/problem.js";
import { retryAfterSeconds } from "../src/retry-after.js";

const NOW = Date.parse("2026-11-30T12:00:00.000Z");

describe("problemFromResponse", () => {
  it("names the service's problem by its short type and keeps detail, request id, Retry-After and extension members", () => {
    const body = {
      type: "urn:connection-manager:problem:insufficient-scope",
      title: "The connection lacks scopes the caller requires",
      status: 403,
      detail: "Missing api:write.",
      request_id: "req-9",
      missing_scopes: ["api:write"],
    };
    const error = problemFromResponse(new Response(null, { status: 403, headers: { "Retry-After": "5" } }), body, NOW);

    expect(error).toBeInstanceOf(ProblemError);
    expect(error).toMatchObject({
      type: "insufficient-scope",
      status: 403,
      detail: "Missing api:write.",
      requestId: "req-9",
      retryAfterSeconds: 5,
    });
    expect(error.body.missing_scopes).toEqual(["api:write"]);
    expect(error.message).toBe("403 insufficient-scope: Missing api:write.");
    expect(isProblem(error, "insufficient-scope")).toBe(true);
    expect(isProblem(error, "forbidden")).toBe(false);
    expect(isProblem(new Error("x"), "forbidden")).toBe(false);
  });

  it("names an answer that is not one of the service's problems http-{status}, with the response's request id and status text", () => {
    const response = new Response("<html>Bad gateway</html>", {
      status: 502,
      statusText: "Bad Gateway",
      headers: { "X-Request-Id": "req-proxy" },
    });

    const error = problemFromResponse(response, "<html>Bad gateway</html>", NOW);

    expect(error).toMatchObject({ type: "http-502", status: 502, title: "Bad Gateway", detail: undefined, requestId: "req-proxy" });
    expect(error.body).toEqual({});
    expect(error.message).toBe("502 http-502: Bad Gateway");
  });

  it("does not take a problem type of another service, or an unknown one of ours, for one of ours", () => {
    const foreign = problemFromResponse(
      new Response(null, { status: 400 }),
      { type: "https://example.com/probs/out-of-credit", title: "x" },
      NOW,
    );
    const unknown = problemFromResponse(new Response(null, { status: 418 }), { type: "urn:connection-manager:problem:teapot" }, NOW);

    expect(foreign.type).toBe("http-400");
    expect(unknown).toMatchObject({ type: "http-418", title: "The service answered with an error" });
  });
});

describe("retryAfterSeconds", () => {
  it.each([
    ["30", 30],
    [" 0 ", 0],
    ["Mon, 30 Nov 2026 12:00:45 GMT", 45],
    ["Mon, 30 Nov 2026 12:00:00 GMT", 0],
    ["Mon, 30 Nov 2026 11:59:00 GMT", 0],
    ["soon", undefined],
    ["-5", undefined],
  ])("reads %j as %j seconds", (header, seconds) => {
    expect(retryAfterSeconds(header, NOW)).toBe(seconds);
  });

  it("rounds an HTTP-date's remaining part of a second up", () => {
    expect(retryAfterSeconds("Mon, 30 Nov 2026 12:00:10 GMT", NOW + 200)).toBe(10);
  });

  it("is undefined without the header", () => {
    expect(retryAfterSeconds(null, NOW)).toBeUndefined();
  });
});

describe("unwrap", () => {
  it("gives a 2xx answer's data, nothing for a 204", async () => {
    expect(await unwrap(Promise.resolve({ data: { connections: [] }, response: new Response(null, { status: 200 }) }))).toEqual({
      connections: [],
    });
    expect(await unwrap({ response: new Response(null, { status: 204 }) })).toBeUndefined();
  });

  it("throws an error answer as the ProblemError it carries", async () => {
    const body = {
      type: "urn:connection-manager:problem:forbidden",
      title: "t",
      status: 403,
      detail: "Needs admin.",
      required_scope: "admin",
    };

    const error = await unwrap({ error: body, response: new Response(null, { status: 403 }) }).catch((caught: unknown) => caught);

    expect(isProblem(error, "forbidden")).toBe(true);
    expect(error).toMatchObject({ detail: "Needs admin.", body: { required_scope: "admin" } });
  });
});
