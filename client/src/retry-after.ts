/** Each of the HTTP-date forms (RFC 9110 §5.6.7) begins with the day's name; `Date.parse` alone would take "-5" for a year. */
const HTTP_DATE_START = /^[A-Za-z]{3}/;

/**
 * `Retry-After` (RFC 9110 §10.2.3) as whole seconds from `now` (epoch milliseconds): delay-seconds as they are, an
 * HTTP-date as the seconds until it (0 when it has passed); `undefined` when absent or neither form.
 */
export function retryAfterSeconds(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value);
  const at = HTTP_DATE_START.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}
