import { describe, expect, it } from "vitest";
import { authHeaders } from "../support/caller-token";
import { expectProblem, type Problem } from "../support/problems";
import { service } from "../support/toolkit";
import { callWorker } from "../support/worker";

const call = callWorker;

/** `expectProblem`, and the title and detail every problem of these endpoints carries. */
async function expectDescribedProblem(response: Response, status: number, type: string): Promise<Problem> {
  const problem = await expectProblem(response, status, type);
  expect(typeof problem.title).toBe("string");
  expect(typeof problem.detail).toBe("string");
  return problem;
}

describe("service endpoints", () => {
  it("answers the health check without authentication", async () => {
    const response = await call("/health");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  it("serves an OpenAPI 3.1 document built from the route schemas", async () => {
    const response = await call("/openapi.json");
    expect(response.status).toBe(200);
    const document = (await response.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(["/v1/providers", "/v1/connect/{provider}", "/v1/oauth/{provider}/callback", "/v1/connections/{id}"]),
    );
    expect(document.paths["/v1/connections/{id}"]).toHaveProperty("delete");
  });

  it("answers unknown paths with a not-found problem", async () => {
    await expectDescribedProblem(await call("/nothing/here"), 404, "not-found");
  });

  it("answers a known path with the wrong method with 405 and the allowed methods", async () => {
    const response = await service.call("user-405", "/v1/connections", { method: "PUT" });
    await expectDescribedProblem(response, 405, "method-not-allowed");
    expect(response.headers.get("Allow")).toBe("GET");
  });

  it("refuses bodies over 64 KiB with 413", async () => {
    const body = JSON.stringify({ scopes: ["x".repeat(70 * 1024)] });
    const response = await service.call("user-413", "/v1/connect/google", { method: "POST", body });
    await expectDescribedProblem(response, 413, "payload-too-large");
  });

  it("refuses a body that is not JSON with 415", async () => {
    const response = await call("/v1/connect/google", {
      method: "POST",
      headers: { ...(await authHeaders("user-415")), "Content-Type": "text/plain" },
      body: "scopes=openid",
    });
    await expectDescribedProblem(response, 415, "unsupported-media-type");
  });

  it("refuses malformed JSON with a bad-request problem that does not echo the body", async () => {
    const response = await service.call("user-json", "/v1/connect/google", { method: "POST", body: '{"scopes": [secret-looking-value' });
    const body = await expectDescribedProblem(response, 400, "bad-request");
    expect(JSON.stringify(body)).not.toContain("secret-looking-value");
  });

  it("lists validation failures by field without the offending value", async () => {
    const response = await service.call("user-validation", "/v1/connect/google", {
      method: "POST",
      body: { scopes: "not-an-array-value", extra: true },
    });
    const body = await expectDescribedProblem(response, 400, "bad-request");
    expect(body.invalid_params).toEqual(expect.arrayContaining([expect.objectContaining({ path: "scopes" })]));
    expect(JSON.stringify(body)).not.toContain("not-an-array-value");
  });

  it("allows CORS from a configured origin without credentials", async () => {
    const response = await call("/v1/connections", {
      method: "OPTIONS",
      headers: {
        Origin: "https://app.example.com",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
    expect(response.headers.get("Access-Control-Allow-Credentials")).toBeNull();
  });

  it("gives no CORS grant to other origins", async () => {
    const response = await call("/v1/connections", {
      method: "OPTIONS",
      headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "GET" },
    });
    expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });

  it("tags every response with a request id and forbids caching API answers", async () => {
    const response = await service.call("user-headers", "/v1/providers");
    expect(response.status).toBe(200);
    expect(response.headers.get("X-Request-Id")).toMatch(/.+/);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
  });

  it("lists every provider with whether it is configured and its scopes", async () => {
    const response = await service.call("user-providers", "/v1/providers");
    const { providers } = (await response.json()) as {
      providers: { id: string; configured: boolean; default_scopes: string[]; allowed_scopes: string[] }[];
    };
    expect(providers.map((provider) => provider.id)).toEqual(["google", "youtube", "microsoft", "notion", "local-oidc"]);
    expect(providers.every((provider) => provider.configured)).toBe(true);
    const google = providers.find((provider) => provider.id === "google")!;
    expect(google.default_scopes).toEqual(expect.arrayContaining(["openid", "email", "profile"]));
    expect(google.allowed_scopes).toContain("https://www.googleapis.com/auth/calendar.events");
  });
});
