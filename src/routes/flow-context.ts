import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { getTokenCipher } from "../crypto/token-cipher";
import type { FlowContext } from "../flow/flow-context";
import { getProviderRegistry } from "../providers/registry";
import { database } from "../storage/database";

/** The flow's dependencies for one request. */
export function flowContext(c: Context<AppEnv>): FlowContext {
  const config = c.get("config");
  return {
    env: c.env,
    config,
    db: database(c.env.DB),
    providers: getProviderRegistry(config),
    cipher: getTokenCipher(config.encryptionKeys),
    audit: c.get("audit"),
    now: Date.now(),
  };
}
