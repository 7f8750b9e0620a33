/**
 * The caller key set published at `AUTH_JWKS_URL`, cached per isolate. The cache holds settled values only (the
 * keys and when they were fetched, plus the times of recent attempts): the runtime cancels a request's pending work
 * when it ends, and a promise shared with later requests would then never settle.
 */
import { createLocalJWKSet, type CryptoKey, type JSONWebKeySet, type JWSHeaderParameters, type LocalJWKSet } from "jose";

/** A key set older than this is refetched before use. */
const REFRESH_AFTER_MS = 10 * 60_000;
/** While refetches fail, the last good key set keeps serving until it is this old: an auth-service outage. */
const SERVE_STALE_FOR_MS = 60 * 60_000;
/**
 * After a failed fetch, and for a `kid` the set does not hold, the endpoint is asked again at most this often: an
 * outage is not answered by one slow fetch per request, and forged `kid`s cannot make the service hammer it.
 */
const REFETCH_INTERVAL_MS = 30_000;

/** No key set younger than an hour is held and none can be fetched just now; the caller should retry. */
export class CallerKeysUnavailable extends Error {
  override name = "CallerKeysUnavailable";
  readonly retryAfterSeconds = REFETCH_INTERVAL_MS / 1000;
}

/** The key set endpoint answered, but not with 2xx. */
class KeySetStatusError extends Error {
  override name = "KeySetStatusError";
  constructor(readonly status: number) {
    super(`the key set endpoint answered ${status}`);
  }
}

/** Fetches the key set document; throws when it cannot be fetched in time or is not JSON. */
export async function fetchKeySet(url: string, timeoutMs: number): Promise<unknown> {
  const response = await fetch(url, {
    headers: { Accept: "application/json" },
    // A key set is served where it is configured; a redirect could lead anywhere (jose's remote set refuses them too).
    redirect: "manual",
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new KeySetStatusError(response.status);
  }
  return response.json();
}

interface KeySet {
  resolve: LocalJWKSet;
  kids: ReadonlySet<string>;
  fetchedAt: number;
}

export class CallerKeys {
  #keySet: KeySet | null = null;
  #failedAt: number | null = null;
  #unknownKidFetchedAt: number | null = null;
  #refreshStartedAt: number | null = null;

  /** `load` fetches the key set document (see `fetchKeySet`); `loadTimeoutMs` bounds it. */
  constructor(
    private readonly load: () => Promise<unknown>,
    private readonly loadTimeoutMs: number,
  ) {}

  /**
   * The key that verifies a token with `header`. Throws `CallerKeysUnavailable`, or jose's `JWKSNoMatchingKey`
   * when the set (fetched again for an unknown `kid`, at most every 30 s) holds no such key.
   */
  async keyFor(header: JWSHeaderParameters, now: number): Promise<CryptoKey> {
    if (this.#shouldFetch(header.kid, now)) await this.#fetch(now);
    const keySet = this.#keySet;
    if (!keySet || now - keySet.fetchedAt >= SERVE_STALE_FOR_MS) throw new CallerKeysUnavailable();
    return keySet.resolve(header);
  }

  #shouldFetch(kid: string | undefined, now: number): boolean {
    if (this.#failedAt !== null && now - this.#failedAt < REFETCH_INTERVAL_MS) return false;
    const keySet = this.#keySet;
    if (!keySet || now - keySet.fetchedAt >= SERVE_STALE_FOR_MS) return true;
    // Another request of this isolate is fetching already; the set it replaces still serves meanwhile.
    if (this.#refreshStartedAt !== null && now - this.#refreshStartedAt < this.loadTimeoutMs) return false;
    if (now - keySet.fetchedAt >= REFRESH_AFTER_MS) return true;
    if (kid === undefined || keySet.kids.has(kid)) return false;
    if (this.#unknownKidFetchedAt !== null && now - this.#unknownKidFetchedAt < REFETCH_INTERVAL_MS) return false;
    this.#unknownKidFetchedAt = now;
    return true;
  }

  /** Replaces the key set with a freshly fetched one, or records the failure; never throws. */
  async #fetch(now: number): Promise<void> {
    this.#refreshStartedAt = now;
    try {
      const document = await this.load();
      // Validates the document (`JWKSInvalid` unless it is a key set) and keeps a copy of it.
      const resolve = createLocalJWKSet(document as JSONWebKeySet);
      const kids = new Set(resolve.jwks().keys.flatMap((key) => (typeof key.kid === "string" ? [key.kid] : [])));
      this.#keySet = { resolve, kids, fetchedAt: now };
      this.#failedAt = null;
    } catch (error) {
      this.#failedAt = now;
      // The error's name and status only: what the endpoint answered is not for the log.
      console.warn(
        JSON.stringify({
          message: "caller key set unavailable",
          error: error instanceof Error ? error.name : typeof error,
          ...(error instanceof KeySetStatusError ? { status: error.status } : {}),
        }),
      );
    } finally {
      this.#refreshStartedAt = null;
    }
  }
}
