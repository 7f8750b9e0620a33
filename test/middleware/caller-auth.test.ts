import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { base64url, SignJWT, UnsecuredJWT } from "jose";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { TEST_JWT_SECRET } from "../support/bindings";
import { callerToken } from "../support/caller-token";
import { expectProblem } from "../support/problems";
import { worker } from "../support/worker";

const URL_CONNECTIONS = "http://localhost:8787/v1/connections";

async function withBearer(token: string | null, targetEnv?: Env): Promise<Response> {
  const request = new Request(URL_CONNECTIONS, token === null ? {} : { headers: { Authorization: `Bearer ${token}` } });
  if (!targetEnv) return worker().fetch(request);
  return createApp().fetch(request, targetEnv, createExecutionContext());
}

async function expectUnauthorized(response: Response, token?: string): Promise<void> {
  expect(response.headers.get("WWW-Authenticate")).toMatch(/^Bearer /);
  const text = JSON.stringify(await expectProblem(response, 401, "unauthorized"));
  if (token) {
    for (const part of token.split(".").filter((segment) => segment.length > 8)) expect(text).not.toContain(part);
  }
}

describe("caller authentication", () => {
  it("accepts an HS256 token with exp and uses sub as the user", async () => {
    const response = await withBearer(await callerToken("auth-user-ok"));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ connections: [] });
  });

  it.each(["bearer", "BEARER", "bEaReR"])(
    "accepts the authentication scheme written %s (case-insensitive, RFC 9110 §11.1)",
    async (scheme) => {
      const response = await worker().fetch(
        new Request(URL_CONNECTIONS, { headers: { Authorization: `${scheme} ${await callerToken("auth-user-scheme")}` } }),
      );
      expect(response.status).toBe(200);
    },
  );

  it("refuses a request without a bearer token", async () => {
    await expectUnauthorized(await withBearer(null));
  });

  it("refuses a token signed with another secret without echoing it", async () => {
    const token = await callerToken("auth-user", { secret: "another-secret-that-is-long-enough-0123456789" });
    await expectUnauthorized(await withBearer(token), token);
  });

  it("refuses a token without exp", async () => {
    const token = await callerToken("auth-user", { expiresInSeconds: null });
    await expectUnauthorized(await withBearer(token), token);
  });

  it("refuses an expired token", async () => {
    const token = await callerToken("auth-user", { expiresInSeconds: -120 });
    await expectUnauthorized(await withBearer(token), token);
  });

  it("refuses alg none", async () => {
    const token = new UnsecuredJWT({ sub: "auth-user" }).setExpirationTime("10m").encode();
    await expectUnauthorized(await withBearer(token), token);
  });

  it("refuses HMAC algorithms outside the allow-list", async () => {
    const token = await callerToken("auth-user", { alg: "HS512" });
    await expectUnauthorized(await withBearer(token), token);
  });

  it("refuses an RS256 header when no JWKS is configured (no HS/RS confusion)", async () => {
    // An attacker signs with the shared secret but claims RS256, hoping the secret is used as a public key.
    const header = base64url.encode(JSON.stringify({ alg: "RS256", typ: "JWT" }));
    const valid = await callerToken("auth-user");
    const [, payload, signature] = valid.split(".");
    await expectUnauthorized(await withBearer(`${header}.${payload}.${signature}`));
  });

  it("refuses a token without sub", async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("10m")
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    await expectUnauthorized(await withBearer(token), token);
  });

  it("refuses a garbled token", async () => {
    await expectUnauthorized(await withBearer("not.a.jwt"));
  });

  it("checks iss and aud when they are configured", async () => {
    const strictEnv = { ...env, AUTH_JWT_ISSUER: "https://auth.example.com", AUTH_JWT_AUDIENCE: "connection-manager" } as Env;
    const wrongIssuer = await callerToken("auth-user", { issuer: "https://evil.example", audience: "connection-manager" });
    await expectUnauthorized(await withBearer(wrongIssuer, strictEnv), wrongIssuer);
    const wrongAudience = await callerToken("auth-user", { issuer: "https://auth.example.com", audience: "other-service" });
    await expectUnauthorized(await withBearer(wrongAudience, strictEnv), wrongAudience);
    const good = await callerToken("auth-user", { issuer: "https://auth.example.com", audience: "connection-manager" });
    expect((await withBearer(good, strictEnv)).status).toBe(200);
  });

  it("records failed authentications in the audit trail without the token", async () => {
    const token = await callerToken("auth-user-audited", { expiresInSeconds: -120 });
    await withBearer(token);
    const rows = await env.DB.prepare("SELECT action, outcome, detail FROM audit_events WHERE action = 'auth.failed'").all<{
      detail: string;
    }>();
    expect(rows.results.length).toBeGreaterThan(0);
    expect(rows.results.some((row) => JSON.parse(row.detail).reason === "expired")).toBe(true);
    expect(JSON.stringify(rows.results)).not.toContain(token.split(".")[2]);
  });
});

describe("caller powers", () => {
  it("refuses a caller without connections:token with 403 before looking at the body", async () => {
    const response = await worker().fetch(
      new Request("http://localhost:8787/v1/connections/conn_anything/token", {
        method: "POST",
        headers: { Authorization: `Bearer ${await callerToken("power-user")}`, "Content-Type": "application/json" },
        body: JSON.stringify({ min_validity_seconds: "not a number" }),
      }),
    );
    expect(response.status).toBe(403);
    expect(((await response.json()) as { required_scope: string }).required_scope).toBe("connections:token");
  });
});
