/**
 * Scopes in one place. A stored or transmitted scope value is space-separated (RFC 6749 §3.3); inside the service a
 * scope list is an array in the provider's normalised form (sorted, de-duplicated), compared as strings.
 */
import type { Provider } from "./providers/provider";

/** A space-separated `scope` value as a list; `null` (absent) is the empty list. */
export function parseScopes(scope: string | null): string[] {
  return scope === null ? [] : scope.split(/\s+/).filter((part) => part !== "");
}

/** A scope list as the space-separated value stored in D1 and sent to providers. */
export function joinScopes(scopes: readonly string[]): string {
  return scopes.join(" ");
}

/** The scopes of `wanted` that `granted` lacks, in `wanted`'s order. */
export function missingScopes(wanted: readonly string[], granted: readonly string[]): string[] {
  return wanted.filter((scope) => !granted.includes(scope));
}

/** Maps each scope through `normalize`, drops empty results, de-duplicates and sorts (stable comparisons). */
export function normalizeScopeList(scopes: readonly string[], normalize: (scope: string) => string = (scope) => scope): string[] {
  const normalized = new Set<string>();
  for (const scope of scopes) {
    const value = normalize(scope.trim());
    if (value !== "") normalized.add(value);
  }
  return [...normalized].sort();
}

/** Returns a normaliser that rewrites a scope to the allow-list's own spelling when it matches case-insensitively. */
export function caseInsensitiveTo(allowed: readonly string[]): (scope: string) => string {
  const spelling = new Map(allowed.map((scope) => [scope.toLowerCase(), scope]));
  return (scope) => spelling.get(scope.toLowerCase()) ?? scope;
}

/**
 * The normalised scopes a token response says were granted. Providers that omit `scope` (Notion) granted what was
 * asked (`requested`).
 */
export function grantedScopes(
  provider: Provider,
  scope: string | null,
  refreshToken: string | null,
  requested: readonly string[],
): string[] {
  if (scope === null) return [...requested];
  const granted = parseScopes(scope);
  // `offline_access` is usually absent from the granted list; a refresh token shows it was granted.
  if (refreshToken !== null && requested.includes("offline_access")) granted.push("offline_access");
  return provider.normalizeScopes(granted);
}
