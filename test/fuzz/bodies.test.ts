/**
 * Request bodies of every shape on the routes that take one: wrong types, unknown fields, malformed JSON, huge
 * arrays and bodies over 64 KiB. Refusals are problem+json, change nothing and never echo what was sent.
 */
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { authHeaders } from "../support/caller-token";
import { activate } from "../support/integration-helpers";
import { expectProblem } from "../support/problems";
import { seedConnection } from "../support/seed-connections";
import { newUserId } from "../support/users";
import { callWorker } from "../support/worker";
import { answerOf, expectInvariants, hostileField, nastyString, PROPERTY_TIMEOUT_MS, RUNS, secretMarker } from "./invariants";

const KIB = 1024;

/** The routes that read a JSON body, with the fields each one knows. */
const BODY_ROUTES = [
  { path: (_: string) => "/v1/connect/google", fields: ["scopes", "return_to"] },
  { path: (_: string) => "/v1/connect/local-oidc", fields: ["scopes", "return_to"] },
  {
    path: (id: string) => `/v1/connections/${id}/token`,
    fields: ["min_validity_seconds", "force_refresh", "rejected_token", "required_scopes"],
  },
  { path: (_: string) => "/v1/integrations/google-calendar/activate", fields: ["connection_id", "return_to"] },
  { path: (_: string) => "/v1/integrations/notion/activate", fields: ["connection_id", "return_to"] },
  { path: (_: string) => "/v1/integrations/gmail/deactivate", fields: [] as string[] },
] as const;

/** The routes whose body has a schema (deactivate takes none and ignores one). */
const JSON_ROUTES = BODY_ROUTES.filter((route) => route.fields.length > 0);

const RETURN_TO = fc.constantFrom(
  "https://app.example.com/done",
  "http://localhost:3000/cb",
  "https://evil.example/",
  "https://app.example.com.evil.example/",
  "https://app.example.com@evil.example/",
  "https:\\\\evil.example",
  "//evil.example",
  "javascript:alert(1)",
  "data:text/html,x",
  "https://app.example.com/\u0000",
  "/relative",
);

/** Values a well-meaning client would send for each field, so that valid and nearly valid bodies are common too. */
const PLAUSIBLE: Record<string, fc.Arbitrary<unknown>> = {
  scopes: fc.array(
    fc.constantFrom("openid", "email", "profile", "https://www.googleapis.com/auth/calendar.events", "api:read", "not-a-scope"),
    { maxLength: 4 },
  ),
  return_to: RETURN_TO,
  min_validity_seconds: fc.oneof(fc.integer({ min: -10, max: 4000 }), fc.double()),
  force_refresh: fc.boolean(),
  rejected_token: fc.string({ minLength: 1, maxLength: 40 }),
  required_scopes: fc.array(fc.constantFrom("openid", "email", "https://www.googleapis.com/auth/drive.readonly"), { maxLength: 3 }),
  connection_id: fc.oneof(fc.constant("OWN"), fc.constantFrom("conn_doesnotexist", "conn_", "conn_../x")),
};

const SCOPE_FIELDS = ["scopes", "required_scopes"];

/** An object of the route's fields, each plausible, wrong-typed or nasty, and sometimes a field the route does not know. */
function bodyFor(fields: readonly string[], secret: string): fc.Arbitrary<Record<string, unknown>> {
  const field = (name: string) => {
    const hostile = SCOPE_FIELDS.includes(name) ? hostileField() : hostileField(secret);
    return fc.oneof({ weight: 3, arbitrary: PLAUSIBLE[name] ?? hostile }, { weight: 1, arbitrary: hostile });
  };
  const known = Object.fromEntries(fields.map((name) => [name, field(name)]));
  return fc.oneof(
    { weight: 4, arbitrary: fc.record(known, { requiredKeys: [] }) },
    // Unknown field *names* are echoed in invalid_params to help the client (as zod words it); values never are.
    {
      weight: 1,
      arbitrary: fc.record({ ...known, extra: hostileField(secret), "\u0000\u202e": hostileField(secret) }, { requiredKeys: [] }),
    },
  );
}

/** The body as sent: the caller's own connection id stands in for "OWN". */
function serialise(body: unknown, ownConnectionId: string): string {
  return JSON.stringify(body, (_, value: unknown) => (value === "OWN" ? ownConnectionId : value));
}

async function jsonCall(path: string, userId: string, body: string, contentType = "application/json"): Promise<Response> {
  return callWorker(path, {
    method: "POST",
    headers: { ...(await authHeaders(userId, { scope: "connections:token" })), "Content-Type": contentType },
    body,
  });
}

describe("hostile request bodies", () => {
  it(
    "any JSON body on a body-taking route is answered 2xx or refused with a problem that changes nothing",
    async () => {
      const cases = fc
        .record({ route: fc.constantFrom(...BODY_ROUTES), secret: secretMarker })
        .chain(({ route, secret }) =>
          fc.record({ route: fc.constant(route), secret: fc.constant(secret), body: bodyFor(route.fields, secret) }),
        );
      // One user per property, owning one connection, so the token route finds a row to vend from.
      const userId = newUserId("fuzz-bodies");
      const own = await seedConnection({ userId });
      await fc.assert(
        fc.asyncProperty(cases, async ({ route, secret, body }) => {
          await expectInvariants({
            method: "POST",
            path: route.path(own.id),
            headers: { ...(await authHeaders(userId, { scope: "connections:token" })), "Content-Type": "application/json" },
            body: serialise(body, own.id),
            secrets: [secret],
          });
        }),
        { numRuns: RUNS.normal },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    "malformed JSON is a bad-request problem that does not echo the body",
    async () => {
      const malformed = fc.tuple(secretMarker, fc.constantFrom(...JSON_ROUTES), fc.nat(), nastyString).map(([secret, route, cut, junk]) => {
        const text = JSON.stringify({ return_to: secret, scopes: [secret], rejected_token: secret });
        // Cut inside the JSON, after the first secret, and splice in junk: never valid JSON.
        const at = 16 + (cut % (text.length - 16));
        return { secret, route, body: `${text.slice(0, at)}${junk}\u0000{` };
      });
      // One user per property, owning one connection, so the token route finds a row to vend from.
      const userId = newUserId("fuzz-malformed");
      const own = await seedConnection({ userId });
      await fc.assert(
        fc.asyncProperty(malformed, async ({ secret, route, body }) => {
          const answer = await expectInvariants({
            method: "POST",
            path: route.path(own.id),
            headers: { ...(await authHeaders(userId, { scope: "connections:token" })), "Content-Type": "application/json" },
            body,
            secrets: [secret],
          });
          expect(answer.status).toBe(400);
          expect(JSON.parse(answer.text)).toMatchObject({ type: "urn:connection-manager:problem:bad-request" });
        }),
        { numRuns: RUNS.light },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    "a body over 64 KiB is refused with 413 before anything reads it, whatever it holds or claims to be",
    async () => {
      const huge = fc.oneof(
        fc.integer({ min: 64 * KIB + 1, max: 256 * KIB }).map((size) => JSON.stringify({ scopes: ["x".repeat(size)] })),
        fc
          .integer({ min: 13 * KIB, max: 40 * KIB })
          .map((count) => JSON.stringify({ scopes: Array.from({ length: count }, (_, i) => `s${i}`) })),
        fc.integer({ min: 64 * KIB + 1, max: 200 * KIB }).map((size) => "{".repeat(size)),
        fc.integer({ min: 64 * KIB + 1, max: 128 * KIB }).map((size) => "\u00e9".repeat(Math.ceil(size / 2))),
      );
      const cases = fc.record({
        route: fc.constantFrom(...BODY_ROUTES),
        body: huge,
        contentType: fc.constantFrom("application/json", "text/plain", "application/octet-stream"),
      });
      // One user per property, owning one connection, so the token route finds a row to vend from.
      const userId = newUserId("fuzz-huge");
      const own = await seedConnection({ userId });
      await fc.assert(
        fc.asyncProperty(cases, async ({ route, body, contentType }) => {
          expect(new TextEncoder().encode(body).length).toBeGreaterThan(64 * KIB);
          const answer = await expectInvariants({
            method: "POST",
            path: route.path(own.id),
            headers: { ...(await authHeaders(userId, { scope: "connections:token" })), "Content-Type": contentType },
            body,
            secrets: [],
          });
          expect(answer.status).toBe(413);
        }),
        { numRuns: 40 },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    "a huge array under the size limit is refused as bad-request, listing at most 20 issues",
    async () => {
      const cases = fc.record({
        route: fc.constantFrom(BODY_ROUTES[0], BODY_ROUTES[2]),
        count: fc.integer({ min: 51, max: 5_000 }),
        item: fc.constantFrom("openid", "", " ", 1, null, {}, "bad scope"),
      });
      // One user per property, owning one connection, so the token route finds a row to vend from.
      const userId = newUserId("fuzz-array");
      const own = await seedConnection({ userId });
      await fc.assert(
        fc.asyncProperty(cases, async ({ route, count, item }) => {
          const field = route.path(own.id).endsWith("/token") ? "required_scopes" : "scopes";
          const body = JSON.stringify({ [field]: Array.from({ length: count }, () => item) });
          expect(body.length).toBeLessThanOrEqual(64 * KIB);
          const answer = await answerOf(await jsonCall(route.path(own.id), userId, body));
          expect(answer.status).toBe(400);
          const problem = JSON.parse(answer.text) as { type: string; invalid_params: unknown[] };
          expect(problem.type).toBe("urn:connection-manager:problem:bad-request");
          expect(problem.invalid_params.length).toBeLessThanOrEqual(20);
        }),
        { numRuns: 30 },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    "a non-JSON Content-Type on a JSON route is 415, with a body or without one",
    async () => {
      const cases = fc.record({
        route: fc.constantFrom(...JSON_ROUTES),
        contentType: fc.constantFrom(
          "text/plain",
          "application/x-www-form-urlencoded",
          "multipart/form-data; boundary=x",
          "application/xml",
          "application/jsonp",
          "json",
          "application/json-seq",
          "x/y",
        ),
        body: fc.option(fc.constantFrom("{}", "scopes=openid", "<a/>"), { nil: undefined }),
      });
      // One user per property, owning one connection, so the token route finds a row to vend from.
      const userId = newUserId("fuzz-media");
      const own = await seedConnection({ userId });
      await fc.assert(
        fc.asyncProperty(cases, async ({ route, contentType, body }) => {
          const answer = await expectInvariants({
            method: "POST",
            path: route.path(own.id),
            headers: { ...(await authHeaders(userId, { scope: "connections:token" })), "Content-Type": contentType },
            body,
            secrets: [],
          });
          expect(answer.status).toBe(415);
        }),
        { numRuns: RUNS.light },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});

describe("regressions found by fuzzing", () => {
  it("a form Content-Type without a body on a JSON route is 415 problem+json, not a 500", async () => {
    const userId = newUserId("fuzz-regression-415");
    const response = await callWorker("/v1/integrations/google-calendar/activate", {
      method: "POST",
      headers: { ...(await authHeaders(userId)), "Content-Type": "application/x-www-form-urlencoded" },
    });
    await expectProblem(response, 415, "unsupported-media-type");
  });

  it("activating an integration with a refused return_to leaves no pending activation behind", async () => {
    const userId = newUserId("fuzz-regression-activation");
    const response = await activate(userId, "google-calendar", { return_to: "https://evil.example/after" });
    await expectProblem(response, 400, "return-to-not-allowed");
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM integration_activations WHERE user_id = ?")
      .bind(userId)
      .first<{ n: number }>();
    expect(rows?.n).toBe(0);
  });
});
