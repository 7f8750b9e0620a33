import type { Context } from "hono";

export interface RequestClient {
  ip: string | null;
  userAgent: string | null;
}

/** Where a request came from, as the consent history records it. */
export function requestClient(c: Context): RequestClient {
  return { ip: c.req.header("CF-Connecting-IP") ?? null, userAgent: c.req.header("User-Agent")?.slice(0, 512) ?? null };
}
