import { z } from "zod";
import { sha256Base64url } from "../crypto/digest";

/**
 * Stored keys in the AUTH_STATE namespace:
 *   `connect-session:{session id}` -> ConnectSession (JSON), TTL CONNECT_SESSION_TTL_SECONDS.
 * The session id is the SHA-256 of the connect link's secret: the secret is stored nowhere, and the id (which the
 * page's URL carries once a browser is bound) opens nothing without that browser's binding cookie.
 */
const KEY_PREFIX = "connect-session:";

/** A connect link lives 30 minutes (docs/http-api.md, "Connect sessions and the connect page"). */
export const CONNECT_SESSION_TTL_SECONDS = 1800;

/** 256 bits as base64url: what a session id looks like. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

const connectSessionSchema = z.object({
  userId: z.string(),
  /** Integration keys the page offers, in the order asked. */
  integrations: z.array(z.string()),
  /** Provider ids the page offers, in the order asked (every configured provider when the session named nothing). */
  providers: z.array(z.string()),
  /** Where "Done" leads; already checked against RETURN_TO_ORIGINS. */
  returnTo: z.string().nullable(),
  /** The only origin the page reports to with `postMessage`. */
  openerOrigin: z.string().nullable(),
  displayName: z.string().nullable(),
  email: z.string().nullable(),
  locale: z.string().nullable(),
  createdAt: z.number(),
  expiresAt: z.number(),
});

/** What a connect link offers to whom, between `POST /v1/connect-sessions` and its expiry. */
export type ConnectSession = z.infer<typeof connectSessionSchema>;

/** The session id of a connect link's secret. */
export function connectSessionId(secret: string): Promise<string> {
  return sha256Base64url(secret);
}

export async function saveConnectSession(kv: KVNamespace, sessionId: string, session: ConnectSession): Promise<void> {
  await kv.put(`${KEY_PREFIX}${sessionId}`, JSON.stringify(session), {
    expirationTtl: CONNECT_SESSION_TTL_SECONDS,
    metadata: { userId: session.userId },
  });
}

/** The stored session, or `null` when unknown, expired (by its own clock too) or unreadable. */
export async function loadConnectSession(kv: KVNamespace, sessionId: string, now: number): Promise<ConnectSession | null> {
  if (!SESSION_ID_PATTERN.test(sessionId)) return null;
  const raw = await kv.get(`${KEY_PREFIX}${sessionId}`, "json").catch(() => null);
  const parsed = connectSessionSchema.safeParse(raw);
  if (!parsed.success || parsed.data.expiresAt <= now) return null;
  return parsed.data;
}
