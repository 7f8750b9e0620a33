/**
 * Every route, every method, hostile path parameters, query strings, headers and bodies: the service never answers
 * 5xx, refuses only with problem+json, echoes no secret, and a refusal changes nothing.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { callerToken } from "../support/caller-token";
import { readRow, seedConnection } from "../support/seed-connections";
import { newUserId } from "../support/users";
import {
  expectInvariants,
  hostileField,
  nastyString,
  PROPERTY_TIMEOUT_MS,
  queryString,
  RUNS,
  secretMarker,
  signatureOf,
} from "./invariants";

const PROVIDERS = ["google", "youtube", "microsoft", "notion", "local-oidc", "unknown-provider"];
const INTEGRATIONS = ["google-calendar", "gmail", "youtube", "outlook-mail", "notion", "no-such-integration"];
const METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"];

/** A path segment that is not what the route expects: escapes, traversal, controls, unicode, very long. */
const hostileSegment: fc.Arbitrary<string> = fc.oneof(
  nastyString.map(encodeURIComponent),
  fc.constantFrom(
    "..",
    "%2e%2e",
    "%2E%2e",
    ".",
    "%2F",
    "a%2Fb",
    "%00",
    "%ZZ",
    "%",
    "%E0%A4%A",
    "%C0%AE",
    "conn_",
    "conn_%2F..",
    ";x=1",
    "a b",
    "%20",
  ),
  fc.integer({ min: 65, max: 9000 }).map((length) => "a".repeat(length)),
  fc.integer({ min: 65, max: 3000 }).map((length) => `conn_${"A".repeat(length)}`),
);

interface Fixture {
  victimConnectionId: string;
}

/** Path templates of every route, filled from generated segments. */
function routePaths(fixture: Fixture): fc.Arbitrary<string> {
  const provider = fc.oneof(fc.constantFrom(...PROVIDERS), hostileSegment);
  const connection = fc.oneof(fc.constantFrom(OWN_CONNECTION, fixture.victimConnectionId, "conn_doesnotexist"), hostileSegment);
  const integration = fc.oneof(fc.constantFrom(...INTEGRATIONS), hostileSegment);
  const webhook = fc.oneof(fc.constant("wh_doesnotexist"), hostileSegment);
  return fc.oneof(
    fc.constantFrom(
      "/health",
      "/openapi.json",
      "/docs",
      "/v1/providers",
      "/v1/connections",
      "/v1/integrations",
      "/v1/consents",
      "/v1/audit",
      "/v1/admin/keys",
      "/v1/admin/webhooks",
      "/v1/me",
    ),
    provider.map((p) => `/v1/connect/${p}`),
    provider.map((p) => `/v1/oauth/${p}/start`),
    provider.map((p) => `/v1/oauth/${p}/callback`),
    connection.map((id) => `/v1/connections/${id}`),
    connection.map((id) => `/v1/connections/${id}/token`),
    integration.map((key) => `/v1/integrations/${key}/activate`),
    integration.map((key) => `/v1/integrations/${key}/deactivate`),
    webhook.map((id) => `/v1/admin/webhooks/${id}`),
    webhook.map((id) => `/v1/admin/webhooks/${id}/rotate-secret`),
    webhook.map((id) => `/v1/admin/webhooks/${id}/test`),
    webhook.map((id) => `/v1/admin/webhooks/${id}/deliveries`),
    fc.constantFrom(
      "/",
      "/v1",
      "/v1/",
      "/v2/providers",
      "/admin",
      "/.env",
      "/v1/oauth/",
      "/health/",
      "//v1//providers",
      "/v1/connections/",
    ),
    hostileSegment.map((segment) => `/${segment}`),
  );
}

/** Query parameters by the names the routes read, and others, with nasty or secret-looking values. */
function queryParams(secret: string): fc.Arbitrary<[string, string][]> {
  const name = fc.constantFrom(
    "state",
    "code",
    "error",
    "error_description",
    "iss",
    "scope",
    "cursor",
    "limit",
    "action",
    "since",
    "until",
    "user_id",
    "x",
    "__proto__",
  );
  const value = fc.oneof(
    nastyString,
    fc.constant(secret),
    fc.constantFrom("-1", "0", "201", "1e3", "abc", "2024-13-45T99:00:00Z", "eyJbad"),
    fc.integer({ min: 513, max: 9000 }).map((n) => "v".repeat(n)),
  );
  return fc.array(fc.tuple(name, value), { maxLength: 5 });
}

/** The caller: valid with various powers, or no usable credentials at all. */
const authorization: fc.Arbitrary<string | null> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom("", "connections:token", "admin", "connections:token admin").map((scope) => `scope:${scope}`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(null, "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer a.b.c", "Bearer a.b.c", "Bearer ..", "Bearer \t"),
  },
);

/** A JSON body built of the fields the routes know and unknown ones, each possibly the wrong type. */
function jsonBody(secret: string): fc.Arbitrary<string> {
  const fields = fc.record(
    {
      scopes: hostileField(),
      return_to: fc.oneof(
        hostileField(secret),
        fc.constantFrom(
          "https://app.example.com/done",
          "https://evil.example/x",
          "javascript:alert(1)",
          "//evil.example",
          "https://app.example.com@evil.example/",
        ),
      ),
      min_validity_seconds: hostileField(secret),
      force_refresh: hostileField(secret),
      rejected_token: fc.oneof(fc.constant(secret), hostileField(secret)),
      required_scopes: hostileField(),
      connection_id: hostileField(secret),
      // A webhook subscription's; its `description` is the operator's own text, echoed back by design.
      url: fc.oneof(hostileField(secret), fc.constantFrom("https://receiver.example.com/hooks", "http://10.0.0.1/", "ftp://x/")),
      events: hostileField(),
      enabled: hostileField(),
      unexpected: hostileField(secret),
    },
    { requiredKeys: [] },
  );
  return fc.oneof(
    fields.map((value) => JSON.stringify(value)),
    hostileField(secret).map((value) => JSON.stringify(value)),
    fc.constantFrom("", "{", "[", "nul", '{"scopes":', "{}}", "\u0000", "{'a':1}", '{"__proto__":{"admin":true}}'),
    fc.tuple(fields, fc.nat()).map(([value, cut]) => {
      const text = JSON.stringify(value);
      return text.slice(0, cut % Math.max(1, text.length));
    }),
  );
}

/** Stands for the caller's own connection id, which exists only once the run has seeded it. */
const OWN_CONNECTION = "conn_OWN_PLACEHOLDER";

const requestArbitrary = (fixture: Fixture) =>
  secretMarker.chain((secret) =>
    fc.record({
      secret: fc.constant(secret),
      method: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...METHODS) },
        { weight: 1, arbitrary: fc.constantFrom("get", "post", "delete", "patch") },
      ),
      path: routePaths(fixture),
      query: queryParams(secret),
      auth: authorization,
      contentType: fc.constantFrom(
        undefined,
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/problem+json",
        "*/*",
      ),
      body: fc.option(jsonBody(secret), { nil: undefined }),
      cookie: fc.option(fc.constantFrom(`cm_flow_x=${secret}`, `session=${secret}; cm_flow_=`, "=", ";;;", `a=${"b".repeat(5000)}`), {
        nil: undefined,
      }),
    }),
  );

describe("hostile requests to every route", () => {
  let fixture: Fixture;

  beforeAll(async () => {
    const victim = await seedConnection({ userId: "fuzz-victim", accessToken: "victim-access-token-never-shown" });
    fixture = { victimConnectionId: victim.id };
  });

  it(
    "never answer 5xx, refuse only with problem+json, echo no secret and change nothing when refused",
    async () => {
      await fc.assert(
        fc.asyncProperty(requestArbitrary(fixture), async (request) => {
          const userId = newUserId("fuzz-routes");
          // The caller owns a connection, so reads, vends and deletes of an existing row are reachable too.
          const path = request.path.includes(OWN_CONNECTION)
            ? request.path.replace(OWN_CONNECTION, (await seedConnection({ userId })).id)
            : request.path;
          const headers: Record<string, string> = {};
          const secrets = [request.secret];
          if (request.auth?.startsWith("scope:")) {
            const scope = request.auth.slice("scope:".length);
            const jwt = await callerToken(userId, scope ? { scope } : {});
            headers.Authorization = `Bearer ${jwt}`;
            secrets.push(signatureOf(jwt));
          } else if (request.auth !== null) {
            headers.Authorization = request.auth;
          }
          if (request.contentType) headers["Content-Type"] = request.contentType;
          if (request.cookie) headers.Cookie = request.cookie;
          await expectInvariants({
            method: request.method,
            path: `${path}${queryString(request.query)}`,
            headers,
            body: request.body,
            secrets,
          });
        }),
        { numRuns: RUNS.normal },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    "never let one user read, vend or remove another user's connection, whatever the path trick",
    async () => {
      const attempts = fc.record({
        method: fc.constantFrom("GET", "DELETE", "POST"),
        path: fc.constantFrom(
          (id: string) => `/v1/connections/${id}`,
          (id: string) => `/v1/connections/${id}/token`,
          (id: string) => `/v1/connections/conn_mine/../${id}`,
          (id: string) => `/v1/connections/conn_mine/%2e%2e/${id}`,
          (id: string) => `/v1/connections/${id}%2Ftoken`,
          (id: string) => `//v1/connections//${id}`,
          (id: string) => `/v1/connections/${id}/`,
          (id: string) => `/v1/connections/${encodeURIComponent(id)}`,
          (id: string) => `/v1/connections/${id.toUpperCase()}`,
          (id: string) => `/v1/connections/${id}%00`,
          (id: string) => `/v1/connections/${id};/token`,
        ),
      });
      await fc.assert(
        fc.asyncProperty(attempts, async ({ method, path }) => {
          const jwt = await callerToken(newUserId("fuzz-attacker"), { scope: "connections:token admin" });
          const answer = await expectInvariants({
            method,
            path: path(fixture.victimConnectionId),
            headers: { Authorization: `Bearer ${jwt}`, "Content-Type": "application/json" },
            body: method === "POST" ? "{}" : undefined,
            secrets: [signatureOf(jwt), "victim-access-token-never-shown"],
          });
          expect(answer.status).toBeGreaterThanOrEqual(400);
          expect(await readRow(fixture.victimConnectionId)).not.toBeNull();
        }),
        { numRuns: RUNS.light },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});
