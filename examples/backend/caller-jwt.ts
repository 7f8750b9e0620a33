/**
 * The caller JWT the application's backend signs for each call (README, "Calling the service from your backend"):
 * HS256 with the secret it shares with the service (`AUTH_JWT_SECRET`), `sub` the user the call is for, a short
 * `exp` (required), `scope` the powers the call needs, and `iss` / `aud` when the service checks them
 * (`AUTH_JWT_ISSUER`, `AUTH_JWT_AUDIENCE`). A service set up with `AUTH_JWKS_URL` instead checks RS256 or ES256 tokens
 * from your identity provider: sign those there.
 */
import { SignJWT } from "jose";

export interface CallerJwtSettings {
  /** `AUTH_JWT_SECRET` of the service (at least 32 bytes). */
  secret: string;
  issuer?: string;
  audience?: string;
}

/** Minutes a caller JWT lives: long enough for one call and its retries, short enough to be worthless once leaked. */
const LIFETIME = "5m";

/** `scope`: `connections:token` to vend tokens and create connect sessions, `admin` for the admin API. */
export function signCallerJwt(settings: CallerJwtSettings, userId: string, scope: string): Promise<string> {
  const jwt = new SignJWT({ scope })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(LIFETIME);
  if (settings.issuer) jwt.setIssuer(settings.issuer);
  if (settings.audience) jwt.setAudience(settings.audience);
  return jwt.sign(new TextEncoder().encode(settings.secret));
}
