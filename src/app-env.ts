import type { RequestIdVariables } from "hono/request-id";
import type { RequestAudit } from "./audit/request-audit";
import type { Config } from "./config";
import type { Caller } from "./middleware/caller-auth";

/** The Hono environment: bindings plus what middleware puts on the context. */
export interface AppEnv {
  Bindings: Env;
  Variables: RequestIdVariables & {
    config: Config;
    audit: RequestAudit;
    caller: Caller;
  };
}
