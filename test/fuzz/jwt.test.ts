/**
 * Forged caller JWTs on every JWT-protected route: `alg: none`, HS/RS confusion, other HMAC algorithms, wrong
 * secrets, missing or expired `exp`, unusable subjects, garbage segments and huge tokens. Every one is a 401
 * problem that changes nothing and never repeats the token's signature.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TEST_JWT_SECRET } from "../support/bindings";
import { callerToken } from "../support/caller-token";
import { newUserId } from "../support/users";
import { expectInvariants, nastyString, PROPERTY_TIMEOUT_MS, RUNS, secretMarker, signatureOf } from "./invariants";

/** Every route that needs a bearer JWT, with a body where it takes one. */
const JWT_ROUTES: readonly { method: string; path: string; body?: string }[] = [
  { method: "GET", path: "/v1/providers" },
  { method: "POST", path: "/v1/connect/google", body: "{}" },
  { method: "GET", path: "/v1/connections" },
  { method: "GET", path: "/v1/connections/conn_fuzz" },
  { method: "DELETE", path: "/v1/connections/conn_fuzz" },
  { method: "POST", path: "/v1/connections/conn_fuzz/token", body: "{}" },
  { method: "GET", path: "/v1/integrations" },
  { method: "POST", path: "/v1/integrations/google-calendar/activate", body: "{}" },
  { method: "POST", path: "/v1/integrations/google-calendar/deactivate" },
  { method: "GET", path: "/v1/consents" },
  { method: "GET", path: "/v1/audit" },
  { method: "GET", path: "/v1/admin/keys" },
  { method: "DELETE", path: "/v1/me" },
];

const encoder = new TextEncoder();

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const segment = (value: unknown) => base64url(encoder.encode(JSON.stringify(value)));

async function hmac(hash: "SHA-256" | "SHA-384" | "SHA-512", secret: string, data: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash }, false, ["sign"]);
  return base64url(new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(data))));
}

/** A compact JWS of `header` and `payload`, signed with HMAC-`hash` under `secret` (or unsigned when null). */
async function compact(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  signing: { hash: "SHA-256" | "SHA-384" | "SHA-512"; secret: string } | null,
): Promise<string> {
  const input = `${segment(header)}.${segment(payload)}`;
  return `${input}.${signing ? await hmac(signing.hash, signing.secret, input) : ""}`;
}

const now = () => Math.floor(Date.now() / 1000);

/** Claims that are fine apart from what the forgery changes. */
const validClaims = (sub: string) => ({ sub, iat: now(), exp: now() + 600, scope: "connections:token admin" });

type Forgery = (sub: string, marker: string) => Promise<string>;

/** Each forgery is one way a token must fail; the right secret is used wherever only one other property is bent. */
const forgeries: Record<string, fc.Arbitrary<Forgery>> = {
  "alg none": fc
    .constantFrom("none", "None", "NONE", "nOnE", "")
    .map((alg) => async (sub) => compact({ alg, typ: "JWT" }, validClaims(sub), null)),
  "alg none with a signature": fc.constant(async (sub) =>
    compact({ alg: "none" }, validClaims(sub), { hash: "SHA-256", secret: TEST_JWT_SECRET }),
  ),
  "RS/ES header over an HMAC signature (key confusion)": fc
    .constantFrom("RS256", "ES256", "PS256", "EdDSA", "RS512")
    .map((alg) => async (sub) => compact({ alg, typ: "JWT" }, validClaims(sub), { hash: "SHA-256", secret: TEST_JWT_SECRET })),
  "another HMAC algorithm with the right secret": fc
    .constantFrom(["HS384", "SHA-384"] as const, ["HS512", "SHA-512"] as const, ["hs256", "SHA-256"] as const)
    .map(
      ([alg, hash]) =>
        async (sub) =>
          compact({ alg, typ: "JWT" }, validClaims(sub), { hash, secret: TEST_JWT_SECRET }),
    ),
  "wrong secret": fc
    .oneof(
      fc.string({ minLength: 1, maxLength: 64 }),
      fc.constantFrom(`${TEST_JWT_SECRET} `, TEST_JWT_SECRET.slice(0, -1), TEST_JWT_SECRET.toUpperCase()),
    )
    .map((secret) => async (sub) => compact({ alg: "HS256", typ: "JWT" }, validClaims(sub), { hash: "SHA-256", secret })),
  "embedded key or key URL with a wrong secret": fc
    .constantFrom(
      { jwk: { kty: "oct", k: base64url(encoder.encode("attacker")) } },
      { jku: "https://evil.example/jwks" },
      { kid: "../../dev/null" },
      { kid: "' OR 1=1 --" },
      { x5u: "https://evil.example/cert" },
    )
    .map((extra) => async (sub) => compact({ alg: "HS256", ...extra }, validClaims(sub), { hash: "SHA-256", secret: "attacker" })),
  "no exp": fc.constant(async (sub) => {
    const { exp: _, ...claims } = validClaims(sub);
    return compact({ alg: "HS256", typ: "JWT" }, claims, { hash: "SHA-256", secret: TEST_JWT_SECRET });
  }),
  "unusable exp": fc
    .constantFrom<unknown>("9999999999", null, true, [], {}, -1, 0, Number.NaN, now() - 120)
    .map((exp) => async (sub) => compact({ alg: "HS256" }, { ...validClaims(sub), exp }, { hash: "SHA-256", secret: TEST_JWT_SECRET })),
  "expired beyond the clock tolerance": fc
    .integer({ min: 31, max: 10 ** 8 })
    .map((ago) => async (sub) => callerToken(sub, { expiresInSeconds: -ago })),
  "not yet valid": fc
    .integer({ min: 120, max: 10 ** 8 })
    .map(
      (ahead) => async (sub) =>
        compact({ alg: "HS256" }, { ...validClaims(sub), nbf: now() + ahead }, { hash: "SHA-256", secret: TEST_JWT_SECRET }),
    ),
  "unusable subject": fc
    .constantFrom<unknown>(undefined, "", 42, null, ["a"], { id: "a" }, "x".repeat(256), true)
    .map((sub) => async () => compact({ alg: "HS256" }, { ...validClaims("ignored"), sub }, { hash: "SHA-256", secret: TEST_JWT_SECRET })),
  "unknown critical header": fc.constant(async (sub) =>
    compact({ alg: "HS256", crit: ["exp-ext"], "exp-ext": true }, validClaims(sub), { hash: "SHA-256", secret: TEST_JWT_SECRET }),
  ),
  "tampered payload under a valid signature": fc.constant(async (sub) => {
    const [header, , signature] = (await callerToken(sub)).split(".");
    return `${header}.${segment({ ...validClaims("someone-else"), scope: "admin" })}.${signature}`;
  }),
  "garbage segments": fc
    .tuple(
      fc.stringMatching(/^[A-Za-z0-9_-]{0,80}$/),
      fc.stringMatching(/^[A-Za-z0-9_-]{0,80}$/),
      fc.stringMatching(/^[A-Za-z0-9_-]{0,80}$/),
    )
    .map(
      ([a, b, c]) =>
        async () =>
          `${a}.${b}.${c}`,
    ),
  "non-JSON header or payload": fc.tuple(nastyString, nastyString).map(
    ([header, payload]) =>
      async () =>
        `${base64url(encoder.encode(header))}.${base64url(encoder.encode(payload))}.${base64url(encoder.encode("sig"))}`,
  ),
  "marker as the signature": fc.constant(async (sub, marker) => `${segment({ alg: "HS256" })}.${segment(validClaims(sub))}.${marker}`),
  "huge token": fc
    .integer({ min: 8 * 1024, max: 96 * 1024 })
    .map(
      (size) => async (sub, marker) =>
        compact({ alg: "HS256", pad: "p".repeat(size) }, { ...validClaims(sub), marker }, { hash: "SHA-256", secret: "wrong-secret" }),
    ),
};

/** How the token is put in the header: the scheme spelled right or wrong, extra tokens, stray whitespace. */
const framing = fc.constantFrom(
  (jwt: string) => `Bearer ${jwt}`,
  (jwt: string) => `bearer ${jwt}`,
  (jwt: string) => `Bearer  ${jwt}`,
  (jwt: string) => `Bearer ${jwt} `,
  (jwt: string) => `Bearer ${jwt}, Bearer ${jwt}`,
  (jwt: string) => `Basic ${jwt}`,
  (jwt: string) => jwt,
  (jwt: string) => `Bearer ${jwt}.extra`,
  (jwt: string) => `Bearer\t${jwt}`,
);

describe("forged caller tokens", () => {
  it(
    "every forged token on every JWT route is a 401 problem that changes nothing and never repeats the token",
    async () => {
      const cases = fc
        .record({
          kind: fc.constantFrom(...Object.keys(forgeries)),
          route: fc.constantFrom(...JWT_ROUTES),
          marker: secretMarker,
        })
        .chain(({ kind, route, marker }) =>
          fc.record({
            kind: fc.constant(kind),
            route: fc.constant(route),
            marker: fc.constant(marker),
            forge: forgeries[kind]!,
            frame: framing,
          }),
        );
      await fc.assert(
        fc.asyncProperty(cases, async ({ kind, route, marker, forge, frame }) => {
          const jwt = await forge(newUserId("fuzz-forger"), marker);
          const authorization = frame(jwt);
          const answer = await expectInvariants({
            method: route.method,
            path: route.path,
            headers: { Authorization: authorization, ...(route.body ? { "Content-Type": "application/json" } : {}) },
            body: route.body,
            secrets: [marker, signatureOf(jwt), jwt.length > 40 ? jwt : ""],
          });
          expect(answer.status, kind).toBe(401);
          expect(JSON.parse(answer.text)).toMatchObject({ type: "urn:connection-manager:problem:unauthorized" });
          expect(answer.headers.get("WWW-Authenticate")).toMatch(/^Bearer /);
        }),
        { numRuns: RUNS.normal + 30 },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it("a genuine token is accepted on the same routes, so the forgeries fail for what they bend and not by accident", async () => {
    for (const route of JWT_ROUTES) {
      const jwt = await callerToken(newUserId("fuzz-genuine"), { scope: "connections:token admin" });
      const answer = await expectInvariants({
        method: route.method,
        path: route.path,
        headers: { Authorization: `Bearer ${jwt}`, ...(route.body ? { "Content-Type": "application/json" } : {}) },
        body: route.body,
        secrets: [signatureOf(jwt)],
      });
      expect(answer.status, `${route.method} ${route.path}`).not.toBe(401);
    }
  });
});
