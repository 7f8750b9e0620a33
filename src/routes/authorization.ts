import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { presentConnection } from "../connections/present";
import { ProblemError, type ProblemType } from "../errors";
import { beginAuthorization } from "../flow/begin";
import { bindBrowser, isBoundBrowser, unbindBrowser } from "../flow/browser-binding";
import { completeAuthorization, type CallbackOutcome } from "../flow/complete";
import { returnUrlWith } from "../flow/return-to";
import { startAuthorization } from "../flow/start";
import { flowContext } from "./flow-context";
import { createRouter } from "./router";
import { AUTHENTICATED_PROBLEMS, BEARER, ConnectionSchema, problem, ProviderIdParam, ScopeSchema } from "./schemas";

const ConnectRequest = z
  .strictObject({
    scopes: z.array(ScopeSchema).max(50).optional(),
    return_to: z.string().max(2048).optional(),
  })
  .openapi("ConnectRequest");

const connect = createRoute({
  method: "post",
  path: "/v1/connect/{provider}",
  tags: ["Connections"],
  summary: "Begin connecting an account",
  description:
    "Returns the service's own start URL; open it in the user's browser. It binds the browser to the flow with a short-lived cookie and redirects to the provider. The provider's default scopes are always requested.",
  security: BEARER,
  request: { params: ProviderIdParam, body: { content: { "application/json": { schema: ConnectRequest } } } },
  responses: {
    201: {
      description: "Authorization URL created",
      content: { "application/json": { schema: z.object({ authorization_url: z.string().url(), expires_at: z.string() }) } },
    },
    ...AUTHENTICATED_PROBLEMS,
    404: problem("Unknown provider"),
    409: problem("Provider not configured"),
  },
});

const StateQuery = z.object({ state: z.string().max(512).optional() });

const start = createRoute({
  method: "get",
  path: "/v1/oauth/{provider}/start",
  tags: ["Browser"],
  summary: "Bind the browser and go to the provider",
  request: { params: ProviderIdParam, query: StateQuery },
  responses: { 302: { description: "Redirect to the provider's authorization page" }, 400: problem("Unknown, expired or used state") },
});

const CallbackQuery = z.object({
  state: z.string().max(512).optional(),
  code: z.string().max(4096).optional(),
  error: z.string().max(256).optional(),
  error_description: z.string().max(2048).optional(),
  iss: z.string().max(2048).optional(),
  scope: z.string().max(4096).optional(),
});

const callback = createRoute({
  method: "get",
  path: "/v1/oauth/{provider}/callback",
  tags: ["Browser"],
  summary: "The provider's redirect back",
  description:
    "Needs the state and the cookie set by the start URL. With a return_to: 302 to it with status=connected&connection_id=… or error=…. Without: 200 with the connection, or a problem with the same error code.",
  request: { params: ProviderIdParam, query: CallbackQuery },
  responses: {
    200: { description: "Connected", content: { "application/json": { schema: z.object({ connection: ConnectionSchema }) } } },
    302: { description: "Back to return_to with the outcome" },
    400: problem("Invalid state, provider error or issuer mismatch"),
    403: problem("Fewer scopes granted than requested"),
    502: problem("Exchange, id_token or identity failure"),
  },
});

/** Codes and URLs in the browser's address bar must not leak to other sites (RFC 9700 §4.2.4). */
function noReferrer(c: Context<AppEnv>): void {
  c.header("Referrer-Policy", "no-referrer");
  c.header("Cache-Control", "no-store");
}

const FAILURE_PROBLEMS = {
  exchange_failed: "exchange-failed",
  invalid_id_token: "invalid-id-token",
  identity_failed: "identity-failed",
  scope_not_granted: "scope-not-granted",
  issuer_mismatch: "issuer-mismatch",
} as const satisfies Record<string, ProblemType>;

function outcomeProblem(outcome: Exclude<CallbackOutcome, { kind: "connected" }>): ProblemError {
  switch (outcome.kind) {
    case "provider_error":
      return new ProblemError("authorization-failed", `The provider answered ${outcome.error}.`, { extensions: { error: outcome.error } });
    case "failed":
      return new ProblemError(FAILURE_PROBLEMS[outcome.error], undefined, {
        extensions: {
          error: outcome.error,
          ...(outcome.connection ? { connection_id: outcome.connection.id } : {}),
          ...(outcome.missingScopes ? { missing_scopes: outcome.missingScopes } : {}),
        },
      });
  }
}

function outcomeParams(outcome: CallbackOutcome): Record<string, string> {
  switch (outcome.kind) {
    case "connected":
      return { status: "connected", connection_id: outcome.connection.id };
    case "provider_error":
      return { error: outcome.error };
    case "failed":
      return {
        error: outcome.error,
        ...(outcome.connection ? { connection_id: outcome.connection.id } : {}),
        ...(outcome.missingScopes ? { missing_scopes: outcome.missingScopes.join(" ") } : {}),
      };
  }
}

export const authorizationRoutes = createRouter()
  .openapi(connect, async (c) => {
    const { provider } = c.req.valid("param");
    const body = c.req.valid("json") ?? {};
    const begun = await beginAuthorization(flowContext(c), {
      userId: c.get("caller").userId,
      providerId: provider,
      scopes: body.scopes,
      returnTo: body.return_to,
    });
    return c.json({ authorization_url: begun.authorizationUrl, expires_at: new Date(begun.expiresAt).toISOString() }, 201);
  })
  .openapi(start, async (c) => {
    noReferrer(c);
    const flow = flowContext(c);
    const started = await startAuthorization(flow, { providerId: c.req.valid("param").provider, state: c.req.valid("query").state });
    bindBrowser(c, flow.config, started.flow, flow.now);
    return c.redirect(started.providerUrl.toString(), 302);
  })
  .openapi(callback, async (c) => {
    noReferrer(c);
    const flow = flowContext(c);
    const { flow: state, outcome } = await completeAuthorization(flow, {
      providerId: c.req.valid("param").provider,
      params: c.req.valid("query"),
      isBoundBrowser: (stored) => isBoundBrowser(c, stored),
      ip: c.req.header("CF-Connecting-IP") ?? null,
      userAgent: c.req.header("User-Agent")?.slice(0, 512) ?? null,
    });
    unbindBrowser(c, flow.config, state.flowId);
    if (state.returnTo) return c.redirect(returnUrlWith(state.returnTo, outcomeParams(outcome)), 302);
    if (outcome.kind === "connected") return c.json({ connection: presentConnection(outcome.connection) }, 200);
    throw outcomeProblem(outcome);
  });
