import { createMiddleware } from "hono/factory";
import { createServices, type Services } from "../services";
import type { RequestIdVariables } from "./request-id";

/** What `requestServices` puts on the context. */
export interface ServicesVariables {
  services: Services;
}

/**
 * Builds the request's services (configuration parsed once per isolate; a misconfiguration throws `ConfigError`,
 * which the error exit turns into a 500 that names nothing) and hands over the request's audit events and webhook
 * events: lifecycle events are written, and webhook events queued (one `sendBatch`, none when there are none), before
 * the response leaves, side by side; hot-path events are sent to the audit queue after it, through this request's own
 * `waitUntil` (the queue holds them from then on; its consumer writes them in batches). A vend publishes no event.
 */
export const requestServices = createMiddleware<{ Bindings: Env; Variables: RequestIdVariables & ServicesVariables }>(
  async function requestServices(c, next) {
    const services = createServices(c.env, {
      requestId: c.get("requestId"),
      ip: c.req.header("CF-Connecting-IP") ?? null,
      userId: null,
      actor: "anonymous",
    });
    c.set("services", services);
    await next();
    // Neither throws: a failed write or send is logged, and the operation's own outcome stands.
    await Promise.all([services.audit.flush(), services.events.flush()]);
    c.executionCtx.waitUntil(services.audit.flushAfterResponse());
  },
);
