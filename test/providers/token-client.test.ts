import { describe, expect, it } from "vitest";
import { parseRetryAfter, requestToken, revokeToken, type TokenEndpointRequest } from "../../src/providers/token-client";
import { newMockId } from "../support/mock-control";
import { mockProvider } from "../support/toolkit";

/** A token request against the mock's stateless endpoint, answering as `answer` says. */
function against(answer: Record<string, string>, overrides: Partial<TokenEndpointRequest> = {}): TokenEndpointRequest {
  return {
    url: mockProvider.respondUrl(answer),
    params: { grant_type: "refresh_token", refresh_token: "rt-1" },
    encoding: "form",
    clientAuth: { method: "basic", clientId: "client", clientSecret: "secret" },
    ...overrides,
  };
}

const json = (value: unknown) => JSON.stringify(value);

describe("token client classification", () => {
  it("returns the tokens of a 2xx response with an access token", async () => {
    const result = await requestToken(
      against({ body: json({ access_token: "at", refresh_token: "rt", expires_in: 3599, scope: "a b", id_token: "idt" }) }),
    );
    expect(result).toMatchObject({
      ok: true,
      tokens: { accessToken: "at", refreshToken: "rt", expiresIn: 3599, scope: "a b", idToken: "idt" },
    });
  });

  it("accepts expires_in as a numeric string", async () => {
    const result = await requestToken(against({ body: json({ access_token: "at", expires_in: "3599" }) }));
    expect(result.ok && result.tokens.expiresIn).toBe(3599);
  });

  it("reports an absent expires_in as null", async () => {
    const result = await requestToken(against({ body: json({ access_token: "at" }) }));
    expect(result.ok && result.tokens.expiresIn).toBeNull();
  });

  it("keeps the whole OAuth error body of a 4xx", async () => {
    const body = json({ error: "invalid_grant", error_description: "Token has been expired or revoked." });
    const result = await requestToken(against({ status: "400", body }));
    expect(result).toEqual({
      ok: false,
      failure: {
        kind: "oauth_error",
        status: 400,
        error: "invalid_grant",
        description: "Token has been expired or revoked.",
        retryAfterSeconds: null,
      },
    });
  });

  it("reads Retry-After in seconds from a 429", async () => {
    const result = await requestToken(against({ status: "429", body: "Too Many Requests", content_type: "text/plain", retry_after: "42" }));
    expect(result).toMatchObject({ ok: false, failure: { kind: "http_error", status: 429, retryAfterSeconds: 42 } });
  });

  it("classifies a 5xx HTML page as http_error", async () => {
    const result = await requestToken(against({ status: "500", body: "<html><h1>Error</h1></html>", content_type: "text/html" }));
    expect(result).toMatchObject({ ok: false, failure: { kind: "http_error", status: 500, error: null } });
  });

  it("gives up with timeout when the endpoint answers too slowly", async () => {
    const result = await requestToken({ ...against({ delay_ms: "2000", body: json({ access_token: "at" }) }), timeoutMs: 100 });
    expect(result).toMatchObject({ ok: false, failure: { kind: "timeout", status: null } });
  });

  it("classifies a dropped connection as network", async () => {
    const result = await requestToken(against({ drop: "1" }));
    expect(result).toMatchObject({ ok: false, failure: { kind: "network", status: null } });
  });

  it("classifies an unparseable 2xx body as malformed_response", async () => {
    const result = await requestToken(against({ body: '{"access_token": "trunc' }));
    expect(result).toMatchObject({ ok: false, failure: { kind: "malformed_response", status: 200 } });
  });

  it("classifies a 2xx without access_token as malformed_response", async () => {
    const result = await requestToken(against({ body: json({ token_type: "Bearer" }) }));
    expect(result).toMatchObject({ ok: false, failure: { kind: "malformed_response" } });
  });
});

describe("token client requests", () => {
  it("form-urlencodes the client id and secret before Basic encoding them (RFC 6749 §2.3.1)", async () => {
    const flow = newMockId("basic");
    const clientAuth = { method: "basic" as const, clientId: "id with:colon", clientSecret: "s&cret+/=" };
    await requestToken(against({ mock_flow: flow, body: json({ access_token: "at" }) }, { clientAuth }));
    const [request] = await mockProvider.requests({ flow });
    const decoded = atob((request?.headers.authorization ?? "").replace("Basic ", ""));
    expect(decoded).toBe("id+with%3Acolon:s%26cret%2B%2F%3D");
  });

  it("puts client_id and client_secret in a form body for body authentication", async () => {
    const flow = newMockId("body-auth");
    const clientAuth = { method: "body" as const, clientId: "client", clientSecret: "secret" };
    await requestToken(against({ mock_flow: flow, body: json({ access_token: "at" }) }, { clientAuth }));
    const [request] = await mockProvider.requests({ flow });
    expect(Object.fromEntries(new URLSearchParams(request?.body))).toMatchObject({ client_id: "client", client_secret: "secret" });
    expect(request?.headers.authorization).toBeUndefined();
  });

  it("sends a JSON body with extra headers when asked", async () => {
    const flow = newMockId("json");
    await requestToken(
      against({ mock_flow: flow, body: json({ access_token: "at" }) }, { encoding: "json", headers: { "Notion-Version": "v" } }),
    );
    const [request] = await mockProvider.requests({ flow });
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(request?.headers["notion-version"]).toBe("v");
    expect(JSON.parse(request?.body ?? "")).toEqual({ grant_type: "refresh_token", refresh_token: "rt-1" });
  });
});

describe("revocation", () => {
  it("treats any 2xx as revoked", async () => {
    expect(await revokeToken(against({ body: "" }))).toEqual({ kind: "revoked" });
  });

  it("reports a 503 with its Retry-After", async () => {
    const result = await revokeToken(against({ status: "503", body: "busy", content_type: "text/plain", retry_after: "5" }));
    expect(result).toMatchObject({ kind: "failed", failure: { kind: "http_error", status: 503, retryAfterSeconds: 5 } });
  });
});

describe("Retry-After parsing", () => {
  it("reads an HTTP date as seconds from now", () => {
    const now = new Date("2026-09-01T12:00:00Z");
    expect(parseRetryAfter("Tue, 01 Sep 2026 12:01:30 GMT", now)).toBe(90);
  });

  it("ignores a value that is neither seconds nor a date", () => {
    expect(parseRetryAfter("soon")).toBeNull();
  });
});
