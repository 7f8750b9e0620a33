/**
 * `return_to` must be an absolute http(s) URL on one of the configured origins (RFC 9700 §4.11: no open
 * redirector). Returns the normalised URL, or null when it is not allowed.
 */
export function allowedReturnTo(value: string, allowedOrigins: readonly string[]): string | null {
  // Backslashes and control characters are how parsers are tricked into disagreeing about the host.
  if (value.length > 2048 || /[\\\u0000-\u001f\u007f]/.test(value)) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return null;
  if (url.username || url.password) return null;
  if (!allowedOrigins.includes(url.origin)) return null;
  return url.toString();
}

/** The return URL with the outcome's parameters added to its query. */
export function returnUrlWith(returnTo: string, params: Record<string, string>): string {
  const url = new URL(returnTo);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.toString();
}
