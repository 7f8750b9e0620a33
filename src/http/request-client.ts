import type { Context } from "hono";
import type { ConsentClient } from "../storage/consents";

/** Where a request came from, as the consent history records it. */
export function requestClient(c: Context): ConsentClient {
  return { ip: c.req.header("CF-Connecting-IP") ?? null, userAgent: c.req.header("User-Agent")?.slice(0, 512) ?? null };
}
