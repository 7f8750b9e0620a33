import { env } from "cloudflare:workers";
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterEach, beforeAll, describe, expect, it, onTestFinished, vi } from "vitest";
import type { SendToService } from "../support/api-client";
import { appWithEnv } from "../support/app-with-env";
import { callerToken } from "../support/caller-token";
import { captureLogs } from "../support/logs";
import { expectProblem } from "../support/problems";
import { mockProvider } from "../support/toolkit";

const KID = "caller-key-1";
const AUDIENCE = "connection-manager";
const MINUTE_MS = 60_000;
let rsaKey: CryptoKey;
let ecKey: CryptoKey;
let publicKeys: JWK[];
let call: SendToService;

/** The mock's stateless `respond` route stands in for the auth service's JWKS. */
function jwksUrl(jwks: unknown): string {
  return mockProvider.respondUrl({ body: JSON.stringify(jwks) });
}

/** The test bindings with caller keys from `url` only, and the audience a JWKS set-up requires. */
function jwksEnv(url: string): Env {
  return { ...env, AUTH_JWT_SECRET: undefined, AUTH_JWKS_URL: url, AUTH_JWT_AUDIENCE: AUDIENCE } as unknown as Env;
}

async function sign(key: CryptoKey, alg: "RS256" | "ES256", kid: string, sub: string, audience = AUDIENCE): Promise<string> {
  return new SignJWT({ scope: "connections:token" })
    .setProtectedHeader({ alg, kid, typ: "JWT" })
    .setSubject(sub)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime("10m")
    .sign(key);
}

function listConnections(token: string, through: SendToService = call): Promise<Response> {
  return through("/v1/connections", { headers: { Authorization: `Bearer ${token}` } });
}

/** From now on the key set's URL answers `answer` instead (the auth service is down); the test's end restores it. */
function takeDown(url: string, answer: Record<string, string>): void {
  const realFetch = globalThis.fetch.bind(globalThis);
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
    const requested = input instanceof Request ? input.url : String(input);
    return realFetch(requested === url ? mockProvider.respondUrl(answer) : input, init);
  });
  onTestFinished(() => spy.mockRestore());
}

beforeAll(async () => {
  const rsa = await generateKeyPair("RS256", { extractable: true });
  const ec = await generateKeyPair("ES256", { extractable: true });
  rsaKey = rsa.privateKey;
  ecKey = ec.privateKey;
  publicKeys = [
    { ...(await exportJWK(rsa.publicKey)), kid: KID, alg: "RS256", use: "sig" },
    { ...(await exportJWK(ec.publicKey)), kid: `${KID}-ec`, alg: "ES256", use: "sig" },
  ];
  call = appWithEnv(jwksEnv(jwksUrl({ keys: publicKeys })));
});

afterEach(() => {
  vi.useRealTimers();
});

describe("caller authentication with a JWKS", () => {
  it("accepts an RS256 token signed by a key of the JWKS", async () => {
    const response = await listConnections(await sign(rsaKey, "RS256", KID, "jwks-user-rs"));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ connections: [] });
  });

  it("accepts an ES256 token signed by a key of the JWKS", async () => {
    const response = await listConnections(await sign(ecKey, "ES256", `${KID}-ec`, "jwks-user-es"));
    expect(response.status).toBe(200);
  });

  it("refuses an HS256 token when only a JWKS is configured", async () => {
    const response = await listConnections(await callerToken("jwks-user-hs", { audience: AUDIENCE }));
    expect(response.status).toBe(401);
  });

  it("refuses a token signed by a key outside the JWKS", async () => {
    const stranger = await generateKeyPair("RS256");
    const response = await listConnections(await sign(stranger.privateKey, "RS256", KID, "jwks-user-stranger"));
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toContain('error="invalid_token"');
  });

  it("refuses a token whose kid is not in a freshly fetched key set", async () => {
    const stranger = await generateKeyPair("RS256");
    const response = await listConnections(await sign(stranger.privateKey, "RS256", "kid-nobody-published", "jwks-user-unknown-kid"));
    await expectProblem(response, 401, "unauthorized");
  });

  it("refuses a token it accepted before once its key has left the key set", async () => {
    const url = jwksUrl({ keys: publicKeys, marker: crypto.randomUUID() });
    const app = appWithEnv(jwksEnv(url));
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    const token = await new SignJWT({ scope: "connections:token" })
      .setProtectedHeader({ alg: "RS256", kid: KID, typ: "JWT" })
      .setSubject("jwks-user-retired-key")
      .setAudience(AUDIENCE)
      .setExpirationTime("2h")
      .sign(rsaKey);
    expect((await listConnections(token, app)).status).toBe(200);

    // The auth service retires the RSA key; the set is fetched again once it is 10 minutes old.
    takeDown(url, { status: "200", body: JSON.stringify({ keys: publicKeys.filter((key) => key.kid !== KID) }) });
    vi.setSystemTime(start + 11 * MINUTE_MS);
    await expectProblem(await listConnections(token, app), 401, "unauthorized");
  });

  it("refuses a token the shared identity provider issued for another audience", async () => {
    const response = await listConnections(await sign(rsaKey, "RS256", KID, "jwks-user-elsewhere", "another-service"));
    await expectProblem(response, 401, "unauthorized");
  });
});

describe("caller authentication when the key set cannot be fetched", () => {
  it.each([
    ["the connection drops", { drop: "1" }],
    ["it answers 500", { status: "500", body: "{}" }],
    ["it answers 503", { status: "503", body: "", retry_after: "120" }],
    ["it answers HTML instead of JSON", { status: "200", body: "<html>maintenance</html>", content_type: "text/html" }],
    ["it answers JSON that is not a key set", { status: "200", body: '{"keys":"none"}' }],
    ["it answers after the upstream timeout", { delay_ms: "4000", body: "{}" }],
  ])("answers 503 with Retry-After, not 401, when %s from the start", async (_label, answer) => {
    const warnings = captureLogs("warn");
    const down = appWithEnv(jwksEnv(mockProvider.respondUrl(answer)));
    const response = await listConnections(await sign(rsaKey, "RS256", KID, "jwks-user-outage"), down);
    await expectProblem(response.clone(), 503, "service-unavailable");
    expect(Number(response.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(response.headers.get("WWW-Authenticate")).toBeNull();
    expect(warnings.messages()).toEqual(["caller key set unavailable"]);
  });

  it("keeps verifying with the last good key set for up to an hour while refetches fail, then answers 503", async () => {
    const url = jwksUrl({ keys: publicKeys, marker: crypto.randomUUID() });
    const app = appWithEnv(jwksEnv(url));
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    expect((await listConnections(await sign(rsaKey, "RS256", KID, "jwks-user-lasting"), app)).status).toBe(200);

    const warnings = captureLogs("warn");
    takeDown(url, { status: "503", body: "" });
    for (const minutes of [11, 30, 59]) {
      vi.setSystemTime(start + minutes * MINUTE_MS);
      const response = await listConnections(await sign(rsaKey, "RS256", KID, "jwks-user-lasting"), app);
      expect({ minutes, status: response.status }).toEqual({ minutes, status: 200 });
    }

    vi.setSystemTime(start + 61 * MINUTE_MS);
    const stale = await listConnections(await sign(rsaKey, "RS256", KID, "jwks-user-lasting"), app);
    await expectProblem(stale.clone(), 503, "service-unavailable");
    expect(Number(stale.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(warnings.lines()).toContainEqual({ message: "caller key set unavailable", error: "KeySetStatusError", status: 503 });
  });
});

describe("caller subject", () => {
  it("refuses a subject longer than 255 characters", async () => {
    const response = await appWithEnv(env)("/v1/connections", {
      headers: { Authorization: `Bearer ${await callerToken("u".repeat(256))}` },
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { detail: string }).detail).toBe("The token has no usable subject.");
  });
});
