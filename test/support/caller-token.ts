/**
 * Caller JWTs as the platform's auth service would issue them (HS256 with `AUTH_JWT_SECRET`), for tests in workerd
 * and Node. Defaults make a valid token; each option bends one property so a test can prove the check behind it.
 */
import { SignJWT } from "jose";
import { TEST_JWT_SECRET } from "./bindings";

export interface CallerTokenOptions {
  /** Space-separated RFC 9068 `scope` claim, e.g. `"connections:token admin"`; omitted when absent. */
  scope?: string;
  /** Lifetime from now; negative makes an expired token, `null` omits `exp` altogether. Default 600. */
  expiresInSeconds?: number | null;
  issuer?: string;
  audience?: string | string[];
  /** Signing secret; default `TEST_JWT_SECRET`, the Worker's `AUTH_JWT_SECRET` in tests. */
  secret?: string;
  alg?: "HS256" | "HS384" | "HS512";
}

const DEFAULT_LIFETIME_SECONDS = 600;

/** Signs a caller JWT for user `sub`. */
export async function callerToken(sub: string, options: CallerTokenOptions = {}): Promise<string> {
  const nowSeconds = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(options.scope === undefined ? {} : { scope: options.scope })
    .setProtectedHeader({ alg: options.alg ?? "HS256", typ: "JWT" })
    .setSubject(sub)
    .setIssuedAt(nowSeconds);
  const expiresInSeconds = options.expiresInSeconds === undefined ? DEFAULT_LIFETIME_SECONDS : options.expiresInSeconds;
  if (expiresInSeconds !== null) jwt.setExpirationTime(nowSeconds + expiresInSeconds);
  if (options.issuer !== undefined) jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET));
}

/** `{ Authorization: "Bearer <callerToken(sub, options)>" }`, to spread into a request's headers. */
export async function authHeaders(sub: string, options: CallerTokenOptions = {}): Promise<{ Authorization: string }> {
  return { Authorization: `Bearer ${await callerToken(sub, options)}` };
}
