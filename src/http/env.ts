/** The Hono environments: what each router's handlers can rely on being set. */
import type { RequestIdVariables } from "hono/request-id";
import type { CallerVariables } from "../middleware/caller-auth";
import type { ServicesVariables } from "../middleware/request-services";

/** Every route: the request id and the request's services. */
export interface AppEnv {
  Bindings: Env;
  Variables: RequestIdVariables & ServicesVariables;
}

/** Routes of the JWT API: the authenticated caller too. */
export interface ApiEnv {
  Bindings: Env;
  Variables: RequestIdVariables & ServicesVariables & CallerVariables;
}
