import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env";
import { ProblemError } from "../errors";

/** Validation problems list where and what, never the offending value. */
function describeIssues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.slice(0, 20).map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message }));
}

/** A router whose request validation failures become `bad-request` problems. */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const issues = describeIssues(result.error);
        throw new ProblemError("bad-request", `The ${result.target} is invalid.`, { extensions: { invalid_params: issues } });
      }
    },
  });
}
