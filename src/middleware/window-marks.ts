/**
 * Per-isolate memory of which keys something happened to in the current rate-limit window (a key was audited, an
 * address spent its limit). It holds only numbers: nothing in it can be cancelled with the request that wrote it.
 */

/** The `period` of every `ratelimits` entry in wrangler.jsonc; the binding does not expose it. */
export const RATE_LIMIT_PERIOD_SECONDS = 60;

/** The rate-limit window `now` falls in, aligned to the wall clock. */
export function rateLimitWindow(now: number): number {
  return Math.floor(now / (RATE_LIMIT_PERIOD_SECONDS * 1000));
}

/** Keys marked in a window; bounded, so a flood of distinct keys cannot grow an isolate's memory. */
export class WindowMarks {
  readonly #windows = new Map<string, number>();

  constructor(private readonly maxKeys = 10_000) {}

  /** True when `key` was marked in `now`'s window. */
  has(key: string, now: number): boolean {
    return this.#windows.get(key) === rateLimitWindow(now);
  }

  /** Marks `key` in `now`'s window; true when it was not marked there yet (the first time in this window). */
  mark(key: string, now: number): boolean {
    const window = rateLimitWindow(now);
    if (this.#windows.get(key) === window) return false;
    if (this.#windows.size >= this.maxKeys) this.#forgetAllBut(window);
    this.#windows.set(key, window);
    return true;
  }

  /** Drops marks of past windows; when the current window alone fills the table, forgets everything. */
  #forgetAllBut(window: number): void {
    for (const [key, marked] of this.#windows) if (marked !== window) this.#windows.delete(key);
    if (this.#windows.size >= this.maxKeys) this.#windows.clear();
  }
}
