import { createRoute, z } from "@hono/zod-openapi";
import { ProblemError } from "../errors";
import { createApiRouter } from "../http/routers";
import { ConnectionIdParam, problem, ScopeSchema } from "../http/schemas";
import { requirePower } from "../middleware/caller-auth";
import { vendAuditEvent, vendToken, type VendOutcome } from "../tokens/vend";
import { DEFAULT_MIN_VALIDITY_SECONDS, MAX_MIN_VALIDITY_SECONDS } from "../vault/refresh-policy";
import { userVault } from "../vault/user-vault";

const VendRequest = z
  .strictObject({
    min_validity_seconds: z.number().int().min(0).max(MAX_MIN_VALIDITY_SECONDS).optional(),
    force_refresh: z.boolean().optional(),
    rejected_token: z.string().min(1).max(8192).optional(),
    required_scopes: z.array(ScopeSchema).max(50).optional(),
  })
  .openapi("VendRequest");

const VendResponse = z
  .object({ access_token: z.string(), token_type: z.literal("Bearer"), expires_at: z.string().nullable(), scopes: z.array(z.string()) })
  .openapi("VendResponse");

/** The vend route (exported for the bench's breakdown, bench/breakdown/, which measures its validation alone). */
export const vendRoute = createRoute({
  method: "post",
  path: "/v1/connections/{id}/token",
  tags: ["Tokens"],
  summary: "A valid access token for the connection",
  description:
    "Needs the `connections:token` scope. Returns the stored token when it stays valid for `min_validity_seconds` (default 300, at most 1,800) or, for a token issued with a shorter life than that, while half of that life remains; otherwise one refresh through the user's Durable Object, shared by concurrent callers. With `rejected_token`, refreshes only if that is still the stored token.",
  middleware: [requirePower("connections:token")] as const,
  request: { params: ConnectionIdParam, body: { content: { "application/json": { schema: VendRequest } } } },
  responses: {
    200: { description: "A token", content: { "application/json": { schema: VendResponse } } },
    403: problem("Missing connections:token, or required_scopes not granted (missing_scopes)"),
    404: problem("Not the caller's connection"),
    409: problem("The connection needs re-authorization (connection_status); Connection.status_reason says why"),
    502: problem("An operator error: the provider refused our client credentials, or its configuration is unusable"),
    503: problem("Refresh failed transiently; Retry-After says when to retry"),
  },
});

function outcomeProblem(outcome: Exclude<VendOutcome, { kind: "token" }>): ProblemError {
  switch (outcome.kind) {
    case "not_found":
      return new ProblemError("not-found", "There is no such connection.");
    case "missing_scopes":
      return new ProblemError("insufficient-scope", "The user has not granted every required scope.", {
        extensions: { missing_scopes: outcome.missingScopes },
      });
    case "needs_reauth":
      return new ProblemError("needs-reauth", "The user must connect this account again.", {
        extensions: { connection_status: "needs_reauth" },
      });
    case "unavailable":
      return new ProblemError("service-unavailable", "The provider could not refresh the token just now.", {
        headers: { "Retry-After": String(outcome.retryAfterSeconds) },
        extensions: { retry_after_seconds: outcome.retryAfterSeconds },
      });
    case "operator_error":
      return new ProblemError(
        "provider-rejected-client",
        "The provider refused this service's client, or its configuration here is unusable; operations have been alerted.",
      );
  }
}

export const tokenRoutes = createApiRouter().openapi(vendRoute, async (c) => {
  const services = c.get("services");
  const { userId } = c.get("caller");
  const body = c.req.valid("json") ?? {};
  const connectionId = c.req.valid("param").id;
  const outcome = await vendToken(
    services,
    {
      userId,
      connectionId,
      minValiditySeconds: body.min_validity_seconds ?? DEFAULT_MIN_VALIDITY_SECONDS,
      forceRefresh: body.force_refresh ?? false,
      rejectedToken: body.rejected_token,
      requiredScopes: body.required_scopes,
      now: services.clock(),
    },
    (request) => userVault(c.env, userId).refresh(request, services.audit.trace()),
  );
  // The hot path: its audit event goes to the audit queue after the response; the queue's consumer writes it.
  services.audit.recordAfterResponse(vendAuditEvent(connectionId, outcome));
  if (outcome.kind !== "token") throw outcomeProblem(outcome);
  return c.json(
    {
      access_token: outcome.accessToken,
      token_type: "Bearer" as const,
      expires_at: outcome.expiresAt === null ? null : new Date(outcome.expiresAt).toISOString(),
      scopes: outcome.scopes,
    },
    200,
  );
});
