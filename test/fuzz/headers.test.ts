/**
 * Hostile values in every header the service reads (Content-Type, Content-Length, Cookie, Origin, CF-Connecting-IP,
 * X-Request-Id, Authorization): no 5xx, problem+json refusals, no CORS grant to an unlisted origin, and a request id
 * that is either the client's well-formed one or a fresh one, never a reflection of anything else.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { callerToken } from "../support/caller-token";
import { newUserId } from "../support/users";
import { callWorker } from "../support/worker";
import { expectInvariants, PROPERTY_TIMEOUT_MS, RUNS, secretMarker, signatureOf } from "./invariants";

const ALLOWED_ORIGIN = "https://app.example.com";
const KIB = 1024;

/**
 * Header values a client can actually send: visible ASCII, spaces and tabs (no CR, LF or NUL; the fetch API refuses
 * those). Latin-1 bytes are left out: workerd re-encodes them as UTF-8 and logs a warning for each.
 */
const headerValue = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 60 }),
  fc.integer({ min: 1, max: 16 * KIB }).map((size) => "h".repeat(size)),
  fc.constantFrom("", " ", "\t", "null", "undefined", "*", "../../", "%0d%0aSet-Cookie: a=b"),
);

const ROUTES: readonly { method: string; path: string; body?: string }[] = [
  { method: "GET", path: "/health" },
  { method: "GET", path: "/openapi.json" },
  { method: "GET", path: "/docs" },
  { method: "GET", path: "/v1/providers" },
  { method: "POST", path: "/v1/connect/google", body: JSON.stringify({ scopes: ["openid"] }) },
  { method: "GET", path: "/v1/oauth/google/start?state=forged" },
  { method: "GET", path: "/v1/oauth/google/callback?state=forged&code=forged" },
  { method: "GET", path: "/v1/connections" },
  { method: "POST", path: "/v1/connections/conn_missing/token", body: "{}" },
  { method: "DELETE", path: "/v1/connections/conn_missing" },
  { method: "POST", path: "/v1/integrations/gmail/activate", body: "{}" },
  { method: "POST", path: "/v1/integrations/gmail/deactivate" },
  { method: "GET", path: "/v1/integrations" },
  { method: "GET", path: "/v1/consents?limit=5" },
  { method: "GET", path: "/v1/audit?limit=5" },
  { method: "GET", path: "/v1/admin/keys" },
  { method: "DELETE", path: "/v1/me" },
  { method: "OPTIONS", path: "/v1/connections" },
  { method: "GET", path: "/nothing/here" },
];

describe("hostile headers", () => {
  it(
    "no header value causes a 5xx, a non-problem refusal, a CORS grant to an unlisted origin or an echoed secret",
    async () => {
      const cases = secretMarker.chain((marker) =>
        fc.record({
          marker: fc.constant(marker),
          route: fc.constantFrom(...ROUTES),
          contentType: fc.option(
            fc.oneof(
              headerValue,
              fc.constantFrom(
                "application/json",
                "application/json; charset=utf-8",
                "Application/JSON ;",
                "application/json, text/plain",
                "text/plain",
              ),
            ),
            { nil: undefined },
          ),
          contentLength: fc.option(
            fc.oneof(headerValue, fc.constantFrom("0", "1", "-1", "65536", "65537", "1e3", " 10", "99999999999999999999", "0x10")),
            { nil: undefined },
          ),
          cookie: fc.option(fc.oneof(headerValue, fc.constant(`cm_flow_abc=${marker}; session=${marker}`)), { nil: undefined }),
          origin: fc.option(
            fc.oneof(
              headerValue,
              fc.constantFrom(
                ALLOWED_ORIGIN,
                `${ALLOWED_ORIGIN}.evil.example`,
                "https://evil.example",
                "null",
                `${ALLOWED_ORIGIN}/`,
                "HTTPS://APP.EXAMPLE.COM",
                "http://app.example.com",
              ),
            ),
            { nil: undefined },
          ),
          ip: fc.option(
            fc.oneof(headerValue, fc.constantFrom("203.0.113.9", "::1", "2001:db8::ff", "999.999.999.999", "1.2.3.4, 5.6.7.8")),
            { nil: undefined },
          ),
          requestId: fc.option(fc.oneof(headerValue, fc.stringMatching(/^[\w.=-]{1,80}$/)), { nil: undefined }),
          authorized: fc.boolean(),
          userAgent: fc.option(headerValue, { nil: undefined }),
        }),
      );
      await fc.assert(
        fc.asyncProperty(cases, async (input) => {
          const jwt = await callerToken(newUserId("fuzz-headers"), { scope: "connections:token" });
          const headers: Record<string, string> = {};
          if (input.authorized) headers.Authorization = `Bearer ${jwt}`;
          if (input.contentType !== undefined) headers["Content-Type"] = input.contentType;
          if (input.contentLength !== undefined) headers["Content-Length"] = input.contentLength;
          if (input.cookie !== undefined) headers.Cookie = input.cookie;
          if (input.origin !== undefined) headers.Origin = input.origin;
          if (input.ip !== undefined) headers["CF-Connecting-IP"] = input.ip;
          if (input.requestId !== undefined) headers["X-Request-Id"] = input.requestId;
          if (input.userAgent !== undefined) headers["User-Agent"] = input.userAgent;
          const answer = await expectInvariants({
            method: input.route.method,
            path: input.route.path,
            headers,
            body: input.route.body,
            secrets: [input.marker, signatureOf(jwt)],
          });

          const granted = answer.headers.get("Access-Control-Allow-Origin");
          if (granted !== null) {
            expect(granted).toBe(ALLOWED_ORIGIN);
            expect(input.origin).toBe(ALLOWED_ORIGIN);
          }
          expect(answer.headers.get("Access-Control-Allow-Credentials")).toBeNull();

          const requestId = answer.headers.get("X-Request-Id");
          expect(requestId).not.toBeNull();
          // Header values reach the Worker with surrounding whitespace removed (Fetch: header value normalization).
          const sent = input.requestId?.trim();
          const wellFormed = sent !== undefined && /^[A-Za-z0-9._-]{1,64}$/.test(sent);
          if (wellFormed) expect(requestId).toBe(sent);
          else expect(requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        }),
        { numRuns: RUNS.normal + 30 },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    "a body over 64 KiB is refused with 413 when Content-Length tells the truth or is absent",
    async () => {
      const cases = fc.record({
        size: fc.integer({ min: 64 * KIB + 1, max: 200 * KIB }),
        declare: fc.constantFrom("truthful", "absent", "larger"),
        route: fc.constantFrom(...ROUTES.filter((route) => route.method === "POST")),
      });
      await fc.assert(
        fc.asyncProperty(cases, async ({ size, declare, route }) => {
          const body = JSON.stringify({ rejected_token: "t".repeat(size) });
          const jwt = await callerToken(newUserId("fuzz-length"), { scope: "connections:token" });
          const headers: Record<string, string> = { Authorization: `Bearer ${jwt}`, "Content-Type": "application/json" };
          if (declare === "truthful") headers["Content-Length"] = String(body.length);
          if (declare === "larger") headers["Content-Length"] = String(body.length + 1000);
          const answer = await expectInvariants({ method: route.method, path: route.path, headers, body, secrets: [signatureOf(jwt)] });
          expect(answer.status).toBe(413);
        }),
        { numRuns: 30 },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it("a not-found answer carries the request id in its header as well as its body (regression)", async () => {
    const response = await callWorker("/nothing/here", { headers: { "X-Request-Id": "fuzz-regression-id" } });
    expect(response.status).toBe(404);
    expect(response.headers.get("X-Request-Id")).toBe("fuzz-regression-id");
    expect(await response.json()).toMatchObject({ request_id: "fuzz-regression-id" });
  });
});
