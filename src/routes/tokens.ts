import { createRoute, z } from "@hono/zod-openapi";
import { auditAfterResponse } from "../audit/deferred-audit";
import { getTokenCipher } from "../crypto/token-cipher";
import { ProblemError } from "../errors";
import { requirePower } from "../middleware/caller-auth";
import { DEFAULT_MIN_VALIDITY_SECONDS } from "../refresh/policy";
import { userVault } from "../refresh/user-vault";
import { vendToken, type VendOutcome } from "../refresh/vend";
import { database } from "../storage/database";
import { createRouter } from "./router";
import { AUTHENTICATED_PROBLEMS, BEARER, ConnectionIdParam, problem, ScopeSchema } from "./schemas";

const VendRequest = z
  .strictObject({
    min_validity_seconds: z.number().int().min(0).max(3600).optional(),
    force_refresh: z.boolean().optional(),
    rejected_token: z.string().min(1).max(8192).optional(),
    required_scopes: z.array(ScopeSchema).max(50).optional(),
  })
  .openapi("VendRequest");

const VendResponse = z
  .object({ access_token: z.string(), token_type: z.literal("Bearer"), expires_at: z.string().nullable(), scopes: z.array(z.string()) })
  .openapi("VendResponse");

const vend = createRoute({
  method: "post",
  path: "/v1/connections/{id}/token",
  tags: ["Tokens"],
  summary: "A valid access token for the connection",
  description:
    "Needs the `connections:token` scope. Returns the stored token when it stays valid for `min_validity_seconds` (default 300); otherwise one refresh through the user's Durable Object, shared by concurrent callers. With `rejected_token`, refreshes only if that is still the stored token.",
  security: BEARER,
  middleware: [requirePower("connections:token")] as const,
  request: { params: ConnectionIdParam, body: { content: { "application/json": { schema: VendRequest } } } },
  responses: {
    200: { description: "A token", content: { "application/json": { schema: VendResponse } } },
    ...AUTHENTICATED_PROBLEMS,
    403: problem("Missing connections:token, or required_scopes not granted (missing_scopes)"),
    404: problem("Not the caller's connection"),
    409: problem("The connection needs re-authorization (connection_status)"),
    502: problem("The provider refused our client credentials"),
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
        "The provider refused this service's client credentials; operations have been alerted.",
      );
  }
}

export const tokenRoutes = createRouter().openapi(vend, async (c) => {
  const caller = c.get("caller");
  const body = c.req.valid("json") ?? {};
  const db = database(c.env.DB);
  const connectionId = c.req.valid("param").id;
  const outcome = await vendToken(
    {
      db,
      cipher: getTokenCipher(c.get("config").encryptionKeys),
      now: Date.now(),
      refresh: (request) => userVault(c.env, caller.userId).refresh(request),
    },
    {
      userId: caller.userId,
      connectionId,
      minValiditySeconds: body.min_validity_seconds ?? DEFAULT_MIN_VALIDITY_SECONDS,
      forceRefresh: body.force_refresh ?? false,
      rejectedToken: body.rejected_token,
      requiredScopes: body.required_scopes,
    },
  );
  auditAfterResponse(db, c.executionCtx, {
    at: Date.now(),
    userId: caller.userId,
    actor: "backend",
    action: "token.vended",
    provider: outcome.kind === "not_found" ? null : outcome.provider,
    connectionId,
    outcome: outcome.kind === "token" ? "success" : "failure",
    requestId: c.get("requestId"),
    ip: c.req.header("CF-Connecting-IP") ?? null,
    detail: outcome.kind === "token" ? { refreshed: outcome.refreshed } : { reason: outcome.kind },
  });
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
