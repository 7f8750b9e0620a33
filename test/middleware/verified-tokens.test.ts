/**
 * The memory of verified HS256 caller tokens (src/middleware/verified-tokens.ts): a remembered token is accepted
 * exactly while verifying it would accept it, and the memory stays bounded.
 */
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { jwtVerify, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { getConfig } from "../../src/config";
import { checkCallerToken } from "../../src/middleware/caller-token";
import { VerifiedTokens, withinLifetime } from "../../src/middleware/verified-tokens";
import { TEST_JWT_SECRET } from "../support/bindings";
import { callerToken } from "../support/caller-token";

const TOLERANCE_SECONDS = 30;
const caller = (userId: string) => ({ userId, powers: new Set(["connections:token"]) });

describe("remembered caller tokens", () => {
  it("are answered until their exp plus the tolerance has passed, to the second jose would refuse them", () => {
    const tokens = new VerifiedTokens(10, TOLERANCE_SECONDS);
    tokens.remember("digest-a", caller("user-a"), { exp: 1_000 });
    expect(tokens.find("digest-a", (1_000 + TOLERANCE_SECONDS) * 1000 - 1)?.userId).toBe("user-a");
    expect(tokens.find("digest-a", (1_000 + TOLERANCE_SECONDS) * 1000)).toBeNull();
    // An expired entry is dropped, not kept for later.
    expect(tokens.size).toBe(0);
  });

  it("are not answered before their nbf minus the tolerance", () => {
    const tokens = new VerifiedTokens(10, TOLERANCE_SECONDS);
    tokens.remember("digest-b", caller("user-b"), { exp: 5_000, nbf: 2_000 });
    expect(tokens.find("digest-b", (2_000 - TOLERANCE_SECONDS) * 1000 - 1)).toBeNull();
    expect(tokens.find("digest-b", (2_000 - TOLERANCE_SECONDS) * 1000)?.userId).toBe("user-b");
  });

  it("forget the token remembered first when full", () => {
    const tokens = new VerifiedTokens(2, TOLERANCE_SECONDS);
    tokens.remember("first", caller("user-1"), { exp: 9_000 });
    tokens.remember("second", caller("user-2"), { exp: 9_000 });
    tokens.remember("third", caller("user-3"), { exp: 9_000 });
    expect(tokens.size).toBe(2);
    expect(tokens.find("first", 0)).toBeNull();
    expect(tokens.find("second", 0)?.userId).toBe("user-2");
    expect(tokens.find("third", 0)?.userId).toBe("user-3");
  });

  it("pass the time checks at exactly the moments jose's verification passes them", async () => {
    const secret = new TextEncoder().encode(TEST_JWT_SECRET);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1_000_000, max: 2_000_000 }),
        fc.option(fc.integer({ min: -200, max: 200 }), { nil: undefined }),
        fc.integer({ min: -200_000, max: 200_000 }),
        async (exp, nbfOffset, nowOffsetMs) => {
          const nbf = nbfOffset === undefined ? undefined : exp + nbfOffset - 100;
          const jwt = new SignJWT({ sub: "user" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime(exp);
          if (nbf !== undefined) jwt.setNotBefore(nbf);
          const token = await jwt.sign(secret);
          const now = exp * 1000 + nowOffsetMs;
          const verifies = await jwtVerify(token, secret, { clockTolerance: TOLERANCE_SECONDS, currentDate: new Date(now) }).then(
            () => true,
            () => false,
          );
          expect(withinLifetime({ exp, nbf }, now, TOLERANCE_SECONDS)).toBe(verifies);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("checking a caller token twice", () => {
  const auth = getConfig(env).auth;

  it("answers the second check with the same caller as the first", async () => {
    const token = await callerToken("verified-twice", { scope: "connections:token admin" });
    const now = Date.now();
    const first = await checkCallerToken(auth, token, now);
    const second = await checkCallerToken(auth, token, now + 1000);
    expect(first).toEqual({ ok: true, caller: { userId: "verified-twice", powers: new Set(["connections:token", "admin"]) } });
    expect(second).toEqual(first);
  });

  it("refuses a token it accepted before once that token has expired", async () => {
    const token = await callerToken("verified-then-expired", { expiresInSeconds: 60 });
    const now = Date.now();
    expect((await checkCallerToken(auth, token, now)).ok).toBe(true);
    const later = now + (60 + TOLERANCE_SECONDS + 1) * 1000;
    expect(await checkCallerToken(auth, token, later)).toEqual({ ok: false, reason: "expired", code: "expired" });
  });

  it("still refuses a token whose signature was changed after the original was accepted", async () => {
    const token = await callerToken("verified-then-tampered");
    const now = Date.now();
    expect((await checkCallerToken(auth, token, now)).ok).toBe(true);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const tampered = `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith("AA") ? "BA" : "AA"}`;
    expect(await checkCallerToken(auth, tampered, now)).toMatchObject({ ok: false, reason: "invalid" });
  });

  it("refuses a token another secret's configuration accepted before", async () => {
    const otherAuth = getConfig({ ...env, AUTH_JWT_SECRET: `another-${TEST_JWT_SECRET}` }).auth;
    const token = await callerToken("verified-under-the-test-secret");
    const now = Date.now();
    expect((await checkCallerToken(auth, token, now)).ok).toBe(true);
    expect(await checkCallerToken(otherAuth, token, now)).toEqual({ ok: false, reason: "invalid", code: "signature" });
  });

  it("accepts a token it refused before its nbf once that nbf is reached: a refusal is not remembered", async () => {
    const nbf = Math.floor(Date.now() / 1000) + 120;
    const token = await new SignJWT({ sub: "refused-then-accepted" })
      .setProtectedHeader({ alg: "HS256" })
      .setNotBefore(nbf)
      .setExpirationTime(nbf + 600)
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    const beforeNbf = (nbf - TOLERANCE_SECONDS - 1) * 1000;
    expect(await checkCallerToken(auth, token, beforeNbf)).toEqual({ ok: false, reason: "invalid", code: "claim_nbf" });
    expect((await checkCallerToken(auth, token, nbf * 1000)).ok).toBe(true);
  });

  it("refuses a correctly signed token without a usable subject every time it is checked", async () => {
    const token = await callerToken("s".repeat(256));
    const now = Date.now();
    const refused = { ok: false, reason: "no_subject", code: "subject" };
    expect(await checkCallerToken(auth, token, now)).toEqual(refused);
    expect(await checkCallerToken(auth, token, now + 1000)).toEqual(refused);
  });
});
