import { z } from "@hono/zod-openapi";

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: "urn:connection-manager:problem:invalid-state" }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    request_id: z.string().optional(),
  })
  .catchall(z.unknown())
  .openapi("Problem");

export const ConnectionSchema = z
  .object({
    id: z.string(),
    provider: z.string(),
    status: z.enum(["active", "needs_reauth"]),
    status_reason: z.string().nullable().openapi({
      description:
        "Why the connection needs re-authorization: invalid_grant, invalid_grant_after_lost_response, no_refresh_token, key_unavailable, …; null while active",
      example: null,
    }),
    account: z.object({ id: z.string(), email: z.string().optional(), name: z.string().optional() }),
    scopes: z.array(z.string()),
    access_token_expires_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    last_refreshed_at: z.string().nullable(),
  })
  .openapi("Connection");

/** RFC 6749 §3.3 scope-token characters. */
export const ScopeSchema = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, "must be a scope token");

export const ProviderIdParam = z.object({
  provider: z
    .string()
    .regex(/^[a-z][a-z0-9-]{1,31}$/, "must be a provider id")
    .openapi({ param: { name: "provider", in: "path" }, example: "google" }),
});

export const ConnectionIdParam = z.object({
  id: z
    .string()
    .regex(/^conn_[A-Za-z0-9_-]{1,64}$/, "must be a connection id")
    .openapi({ param: { name: "id", in: "path" }, example: "conn_3q2-7wEXAMPLE" }),
});

const problem = (description: string) => ({ description, content: { "application/problem+json": { schema: ProblemSchema } } });

/** Problem responses every authenticated route may answer. */
export const AUTHENTICATED_PROBLEMS = {
  400: problem("Invalid input"),
  401: problem("Missing or invalid bearer token"),
  413: problem("Body over 64 KiB"),
  415: problem("Body is not JSON"),
  500: problem("Internal error"),
} as const;

export { problem };

export const BEARER = [{ Bearer: [] }];
