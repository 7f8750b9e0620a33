import { env } from "cloudflare:workers";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { appWithEnv, type AppFetch } from "../support/app-with-env";
import { callerToken } from "../support/caller-token";

const KID = "caller-key-1";
let rsaKey: CryptoKey;
let ecKey: CryptoKey;
let call: AppFetch;

/** The mock's stateless `respond` route serves the JWKS given in its query, standing in for the auth service's. */
function jwksUrl(jwks: unknown): string {
  const query = new URLSearchParams({ body: JSON.stringify(jwks), mock_flow: "caller-jwks" });
  return `${inject("mockProviderOrigin")}/__control/respond?${query}`;
}

async function sign(key: CryptoKey, alg: "RS256" | "ES256", kid: string, sub: string, expiresIn = "10m"): Promise<string> {
  return new SignJWT({ scope: "connections:token" })
    .setProtectedHeader({ alg, kid, typ: "JWT" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(key);
}

function listConnections(token: string): Promise<Response> {
  return call("/v1/connections", { headers: { Authorization: `Bearer ${token}` } });
}

beforeAll(async () => {
  const rsa = await generateKeyPair("RS256", { extractable: true });
  const ec = await generateKeyPair("ES256", { extractable: true });
  rsaKey = rsa.privateKey;
  ecKey = ec.privateKey;
  const keys = [
    { ...(await exportJWK(rsa.publicKey)), kid: KID, alg: "RS256", use: "sig" },
    { ...(await exportJWK(ec.publicKey)), kid: `${KID}-ec`, alg: "ES256", use: "sig" },
  ];
  const jwksOnly = { ...env, AUTH_JWT_SECRET: undefined, AUTH_JWKS_URL: jwksUrl({ keys }) } as unknown as Env;
  call = appWithEnv(jwksOnly);
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
    const response = await listConnections(await callerToken("jwks-user-hs"));
    expect(response.status).toBe(401);
  });

  it("refuses a token signed by a key outside the JWKS", async () => {
    const stranger = await generateKeyPair("RS256");
    const response = await listConnections(await sign(stranger.privateKey, "RS256", KID, "jwks-user-stranger"));
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toContain('error="invalid_token"');
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
