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
  // The owner in the key's metadata lets erasure find the user's flows from a listing, without reading each value.
  await kv.put(await authorizationKey(state), JSON.stringify(record), {
    expirationTtl: AUTHORIZATION_STATE_TTL_SECONDS,
    metadata: { userId: record.userId },
  });
}

/**
 * Deletes every unfinished flow of a user (erasure), so none can complete afterwards. The namespace only holds
 * flows of the last AUTHORIZATION_STATE_TTL_SECONDS, so the listing stays small.
 */
export async function deleteAuthorizationStatesOfUser(kv: KVNamespace, userId: string): Promise<number> {
  let deleted = 0;
  let cursor: string | undefined;
  do {
    const page: KVNamespaceListResult<{ userId?: string }> = await kv.list({
      prefix: AUTHORIZATION_KEY_PREFIX,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const key of page.keys) {
      if (key.metadata?.userId !== userId) continue;
      await kv.delete(key.name);
      deleted += 1;
    }
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor !== undefined);
  return deleted;
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
