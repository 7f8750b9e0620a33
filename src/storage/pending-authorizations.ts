import { z } from "zod";
import { sha256Base64url } from "../crypto/digest";

/**
 * Stored keys in the AUTH_STATE namespace:
 *   `authz:{sha256(state)}` -> PendingAuthorization (JSON), TTL PENDING_AUTHORIZATION_TTL_SECONDS.
 * The key is a hash so that a listing of the namespace reveals no usable state value.
 */
const KEY_PREFIX = "authz:";

/** RFC 9700 §4.7: a short life for the transaction; KV's own minimum TTL is 60 s. */
export const PENDING_AUTHORIZATION_TTL_SECONDS = 600;

const pendingAuthorizationSchema = z.object({
  userId: z.string(),
  provider: z.string(),
  scopes: z.array(z.string()),
  codeVerifier: z.string().nullable(),
  nonce: z.string(),
  returnTo: z.string().nullable(),
  /** Names this authorization's browser-binding cookie, so parallel authorizations in two tabs coexist. */
  bindingId: z.string(),
  /** The value the start URL puts in that cookie; the callback requires it back. */
  bindingSecret: z.string(),
  /** The connection an incremental authorization extends, if any. */
  connectionId: z.string().nullable(),
  /** The integration whose activation began this authorization, if any. */
  integration: z.string().nullable(),
  hasRefreshToken: z.boolean(),
  /** When the user's vault registered it (its clock): an erasure recorded at or after this time ends it. */
  createdAt: z.number(),
  expiresAt: z.number(),
});

/** An authorization between `POST /v1/connect/{provider}` and its callback: the state's transaction. */
export type PendingAuthorization = z.infer<typeof pendingAuthorizationSchema>;

/** The storage key (and single-use claim name) for a state value. */
export async function pendingAuthorizationKey(state: string): Promise<string> {
  return `${KEY_PREFIX}${await sha256Base64url(state)}`;
}

export async function savePendingAuthorization(kv: KVNamespace, state: string, pending: PendingAuthorization): Promise<void> {
  // The owner in the key's metadata tells an operator whose a record is from a listing, without reading its secrets.
  await kv.put(await pendingAuthorizationKey(state), JSON.stringify(pending), {
    expirationTtl: PENDING_AUTHORIZATION_TTL_SECONDS,
    metadata: { userId: pending.userId },
  });
}

/**
 * Deletes the records under these storage keys (erasure: the keys come from the user's own index, never a listing).
 * All at once: the runtime queues what exceeds its limit of simultaneous connections.
 */
export async function deletePendingAuthorizations(kv: KVNamespace, keys: readonly string[]): Promise<void> {
  await Promise.all(keys.map((key) => kv.delete(key)));
}

/** The stored transaction, or `null` when unknown, expired (by its own clock too) or unreadable. */
export async function loadPendingAuthorization(kv: KVNamespace, state: string, now: number): Promise<PendingAuthorization | null> {
  const raw = await kv.get(await pendingAuthorizationKey(state), "json").catch(() => null);
  const parsed = pendingAuthorizationSchema.safeParse(raw);
  if (!parsed.success || parsed.data.expiresAt <= now) return null;
  return parsed.data;
}

export async function deletePendingAuthorization(kv: KVNamespace, state: string): Promise<void> {
  await kv.delete(await pendingAuthorizationKey(state));
}
