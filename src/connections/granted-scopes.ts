import type { Provider } from "../providers/provider";

/**
 * The normalised scopes a token response says were granted. Providers that omit `scope` (Notion) granted what
 * was asked (`requested`).
 */
export function grantedScopes(
  provider: Provider,
  scope: string | null,
  refreshToken: string | null,
  requested: readonly string[],
): string[] {
  if (scope === null) return [...requested];
  const granted = scope.split(/\s+/).filter(Boolean);
  // `offline_access` is usually absent from the granted list; a refresh token shows it was granted.
  if (refreshToken !== null && requested.includes("offline_access")) granted.push("offline_access");
  return provider.normalizeScopes(granted);
}
