/** Scope list helpers shared by the providers. */

/** Maps each scope through `normalize`, drops empty results, de-duplicates and sorts (stable comparisons). */
export function normalizeScopeList(scopes: readonly string[], normalize: (scope: string) => string = (scope) => scope): string[] {
  const normalized = new Set<string>();
  for (const scope of scopes) {
    const value = normalize(scope.trim());
    if (value !== "") normalized.add(value);
  }
  return [...normalized].sort();
}

/** A space-separated `scope` value (RFC 6749 §3.3) as a list. */
export function splitScope(scope: string | null): string[] {
  return scope === null ? [] : scope.split(" ").filter((part) => part !== "");
}

/** Returns a normaliser that rewrites a scope to the allow-list's own spelling when it matches case-insensitively. */
export function caseInsensitiveTo(allowed: readonly string[]): (scope: string) => string {
  const spelling = new Map(allowed.map((scope) => [scope.toLowerCase(), scope]));
  return (scope) => spelling.get(scope.toLowerCase()) ?? scope;
}
