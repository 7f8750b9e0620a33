/**
 * Callers whose bearer token this isolate has verified with the shared secret (HS256). A backend presents one token
 * for many requests, and verifying it again gives the same answer until the clock passes its `exp` (or reaches its
 * `nbf`): nothing else can change it — a JWT cannot be revoked (this service keeps no denylist), and the secret is
 * fixed for the configuration a cache belongs to (a new secret is a new configuration with a new, empty cache).
 *
 * Entries are keyed by the token's SHA-256, so no bearer token outlives its request in memory, and hold only settled
 * results, never a verification in flight: the runtime cancels a request's pending work when the request ends, and
 * a promise it cancelled never settles. Failures are never kept.
 */
import type { Caller } from "./caller-token";

/** The time claims a verified token is accepted under (RFC 7519 §4.1.4, §4.1.5), in seconds since the epoch. */
export interface TokenLifetime {
  exp: number;
  nbf?: number | undefined;
}

interface Entry {
  caller: Caller;
  lifetime: TokenLifetime;
}

/**
 * Whether a token with `lifetime` passes the time checks at `now`, with jose's arithmetic (whole seconds, the
 * tolerance on both sides), so a remembered token is accepted exactly as long as verifying it would accept it.
 */
export function withinLifetime(lifetime: TokenLifetime, now: number, toleranceSeconds: number): boolean {
  const seconds = Math.floor(now / 1000);
  return !hasExpired(lifetime, now, toleranceSeconds) && (lifetime.nbf === undefined || lifetime.nbf <= seconds + toleranceSeconds);
}

function hasExpired(lifetime: TokenLifetime, now: number, toleranceSeconds: number): boolean {
  return lifetime.exp <= Math.floor(now / 1000) - toleranceSeconds;
}

/** Bounded: when full, the entry remembered first makes room, so a flood of distinct tokens cannot grow memory. */
export class VerifiedTokens {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly capacity: number,
    private readonly toleranceSeconds: number,
  ) {}

  /** The caller of the token with `digest` when it was verified and still passes the time checks at `now`. */
  find(digest: string, now: number): Caller | null {
    const entry = this.#entries.get(digest);
    if (!entry) return null;
    if (withinLifetime(entry.lifetime, now, this.toleranceSeconds)) return entry.caller;
    // Past its exp a token never verifies again; before its nbf it will.
    if (hasExpired(entry.lifetime, now, this.toleranceSeconds)) this.#entries.delete(digest);
    return null;
  }

  /** Remembers a token that verified (signature, algorithm, claims, subject) as `caller`. */
  remember(digest: string, caller: Caller, lifetime: TokenLifetime): void {
    if (this.#entries.size >= this.capacity && !this.#entries.has(digest)) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(digest, { caller, lifetime });
  }

  get size(): number {
    return this.#entries.size;
  }
}
