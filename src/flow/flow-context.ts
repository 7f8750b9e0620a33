import type { RequestAudit } from "../audit/request-audit";
import type { Config } from "../config";
import type { TokenCipher } from "../crypto/token-cipher";
import type { ProviderRegistry } from "../providers/registry";
import type { Database } from "../storage/database";

/** What the authorization flow works with; routes build it from the request context. */
export interface FlowContext {
  env: Env;
  config: Config;
  db: Database;
  providers: ProviderRegistry;
  cipher: TokenCipher;
  audit: RequestAudit;
  now: number;
}

export function redirectUri(config: Config, providerId: string): string {
  return `${config.publicBaseUrl}/v1/oauth/${providerId}/callback`;
}
