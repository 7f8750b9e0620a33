import { z } from "zod";
import { base64url } from "../crypto/encoding";

/**
 * Stored keys in the AUTH_STATE namespace:
 *   `authz:{sha256(state)}` -> AuthorizationState (JSON), TTL AUTHORIZATION_STATE_TTL_SECONDS.
 * The key is a hash so that a listing of the namespace reveals no usable state value.
 */
const AUTHORIZATION_KEY_PREFIX = "authz:";

/** RFC 9700 §4.7: a short life for the transaction; KV's own minimum TTL is 60 s. */
export const AUTHORIZATION_STATE_TTL_SECONDS = 600;

const authorizationStateSchema = z.object({
  userId: z.string(),
  provider: z.string(),
  scopes: z.array(z.string()),
  codeVerifier: z.string().nullable(),
  nonce: z.string(),
  returnTo: z.string().nullable(),
  /** Names the browser-binding cookie of this flow, so parallel flows do not clobber each other. */
  flowId: z.string(),
  /** The value the start endpoint puts in the flow's cookie; the callback requires it back. */
  browserBinding: z.string(),
  /** The connection an incremental authorization extends, if any. */
  connectionId: z.string().nullable(),
  /** The integration whose activation started this flow, if any. */
  integration: z.string().nullable(),
  hasRefreshToken: z.boolean(),
  createdAt: z.number(),
  expiresAt: z.number(),
});

export type AuthorizationState = z.infer<typeof authorizationStateSchema>;

/** The storage key (and single-use claim name) for a state value. */
export async function authorizationKey(state: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(state));
  return `${AUTHORIZATION_KEY_PREFIX}${base64url.encode(new Uint8Array(digest))}`;
}

export async function saveAuthorizationState(kv: KVNamespace, state: string, record: AuthorizationState): Promise<void> {
  await kv.put(await authorizationKey(state), JSON.stringify(record), { expirationTtl: AUTHORIZATION_STATE_TTL_SECONDS });
}

/** The stored transaction, or `null` when unknown, expired (by its own clock too) or unreadable. */
export async function loadAuthorizationState(kv: KVNamespace, state: string, now: number): Promise<AuthorizationState | null> {
  const raw = await kv.get(await authorizationKey(state), "json").catch(() => null);
  const parsed = authorizationStateSchema.safeParse(raw);
  if (!parsed.success || parsed.data.expiresAt <= now) return null;
  return parsed.data;
}

export async function deleteAuthorizationState(kv: KVNamespace, state: string): Promise<void> {
  await kv.delete(await authorizationKey(state));
}
