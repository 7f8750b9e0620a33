import type { Config } from "../config";

/** The one redirect URI of a provider (RFC 9700 §4.1: exact, per provider, so a response names its provider). */
export function redirectUri(config: Config, providerId: string): string {
  return `${config.publicBaseUrl}/v1/oauth/${providerId}/callback`;
}
