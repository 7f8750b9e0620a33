/** Signing keys (made at start) and id_tokens as each provider shapes them, optionally tampered with. */
import { createHash } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload, type CryptoKey } from "jose";
import type { IdTokenTamper, MockAccount, MockFlow } from "./state";

interface SigningKey {
  kid: string;
  alg: "RS256" | "ES256";
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface MockKeys {
  rsa: SigningKey;
  ec: SigningKey;
  /** Never published: signatures made with it cannot be verified. */
  unpublished: SigningKey;
  jwks: { keys: JWK[] };
}

async function signingKey(kid: string, alg: "RS256" | "ES256"): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

export async function createMockKeys(): Promise<MockKeys> {
  const [rsa, ec, unpublished] = await Promise.all([
    signingKey("mock-rsa-1", "RS256"),
    signingKey("mock-ec-1", "ES256"),
    signingKey("mock-rsa-unpublished", "RS256"),
  ]);
  return { rsa, ec, unpublished, jwks: { keys: [rsa.publicJwk, ec.publicJwk] } };
}

/** The claims each provider puts in its id_token for this account. */
function providerClaims(flow: MockFlow, issuer: string): JWTPayload {
  const account: MockAccount = flow.account;
  switch (flow.provider) {
    case "microsoft":
      return {
        iss: issuer,
        ver: "2.0",
        tid: account.tid,
        oid: account.oid,
        // Microsoft's `sub` is pairwise per application, unlike `oid`.
        sub: createHash("sha256").update(`${flow.clientId}:${account.oid}`).digest("base64url").slice(0, 43),
        name: account.name,
        preferred_username: account.email,
        email: account.email,
        ...(account.xms_edov === undefined ? {} : { xms_edov: account.xms_edov }),
      };
    default:
      return {
        iss: issuer,
        azp: flow.clientId,
        sub: account.sub,
        email: account.email,
        email_verified: account.email_verified,
        name: account.name,
      };
  }
}

export interface IdTokenInput {
  flow: MockFlow;
  issuer: string;
  /** `null` on refresh: providers do not repeat the nonce there. */
  nonce: string | null;
  clientSecret: string;
  now: number;
}

export async function mintIdToken(keys: MockKeys, { flow, issuer, nonce, clientSecret, now }: IdTokenInput): Promise<string> {
  const tamper: IdTokenTamper | null = flow.idTokenTamper;
  const iat = Math.floor(now / 1000) - (tamper === "stale_iat" ? 3600 : 0);
  const claims: JWTPayload = {
    ...providerClaims(flow, tamper === "wrong_iss" ? `${issuer}-evil` : issuer),
    aud: tamper === "wrong_aud" ? "someone-else" : flow.clientId,
    iat: tamper === "expired" ? iat - 7200 : iat,
    exp: tamper === "expired" ? iat - 3600 : iat + 3600,
  };
  if (nonce !== null) claims.nonce = tamper === "wrong_nonce" ? "another-nonce" : nonce;
  if (tamper === "multi_aud_without_azp" || tamper === "multi_aud_with_azp") {
    claims.aud = [flow.clientId, "another-client"];
    if (tamper === "multi_aud_without_azp") delete claims.azp;
    else claims.azp = flow.clientId;
  }
  if (tamper === "alg_none") return `${base64url({ alg: "none", typ: "JWT" })}.${base64url(claims)}.`;
  if (tamper === "alg_hs256") {
    // The classic confusion attack: HMAC keyed with something the attacker may know.
    return new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: keys.rsa.kid }).sign(new TextEncoder().encode(clientSecret));
  }
  const key = tamper === "es256" ? keys.ec : tamper === "unknown_kid" ? keys.unpublished : keys.rsa;
  const token = await new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" }).sign(key.privateKey);
  return tamper === "bad_signature" ? flipSignature(token) : token;
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/** Changes the signature's first byte, keeping the token well-formed. */
function flipSignature(token: string): string {
  const [header, payload, signature = ""] = token.split(".");
  const bytes = Buffer.from(signature, "base64url");
  bytes[0] = (bytes[0] ?? 0) ^ 0xff;
  return `${header}.${payload}.${bytes.toString("base64url")}`;
}
