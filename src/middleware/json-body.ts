import { createMiddleware } from "hono/factory";
import { ProblemError } from "../errors";

/** A body that is not JSON would otherwise be silently ignored by the routes whose body is optional. */
export const requireJsonBody = createMiddleware(async function requireJsonBody(c, next) {
  const length = c.req.header("Content-Length");
  const hasBody = (length !== undefined && length !== "0") || c.req.header("Transfer-Encoding") !== undefined;
  const type = c.req.header("Content-Type")?.split(";")[0]?.trim().toLowerCase();
  if (hasBody && type !== "application/json") throw new ProblemError("unsupported-media-type");
  await next();
});
