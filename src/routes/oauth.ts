/** The browser's side of the connect flow: the start URL and the provider's callback (state and cookie, no bearer token). */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bindBrowser, isBoundBrowser, unbindBrowser } from "../connect/browser-binding";
import { completeConnect, type SettledCallbackOutcome } from "../connect/complete";
import { redirectToProvider } from "../connect/redirect-to-provider";
import { returnUrlWith } from "../connect/return-to";
import { presentConnection } from "../connections/present";
import { ProblemError, type ProblemType } from "../errors";
import { requestClient } from "../http/request-client";
import { createBrowserRouter } from "../http/routers";
import { ConnectionSchema, problem, ProviderIdParam } from "../http/schemas";

const StateQuery = z.object({ state: z.string().max(512).optional() });

const start = createRoute({
  method: "get",
  path: "/v1/oauth/{provider}/start",
  tags: ["Browser"],
  summary: "Bind the browser and go to the provider",
  description:
    "Works once, for a top-level navigation: a HEAD, or a request whose Sec-Fetch-Mode is present and not navigate (link previews, prefetch), gets a short note and leaves the link unused.",
  request: { params: ProviderIdParam, query: StateQuery },
  responses: {
    200: { description: "Not a navigation: a note, and the link stays unused", content: { "text/plain": { schema: z.string() } } },
    302: { description: "Redirect to the provider's authorization page" },
    400: problem("Unknown, expired or used state"),
  },
});

const NOT_A_NAVIGATION_NOTE = "Open this link in your browser to continue.";

/**
 * Only the user's own navigation may spend the single-use start URL and receive the binding cookie. Link previews,
 * prefetches and HEAD requests would otherwise spend it for a client that is not the user's browser. Browsers say
 * what a request is for in `Sec-Fetch-Mode` (W3C Fetch Metadata); a client that does not send it counts as a
 * navigation, so older browsers still work.
 */
function isNavigation(c: Context): boolean {
  if (c.req.method === "HEAD") return false;
  const mode = c.req.header("Sec-Fetch-Mode");
  return mode === undefined || mode === "navigate";
}

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
    "Needs the state and the cookie set by the start URL. With a return_to: 302 to it with status=connected&connection_id=… or error=…. Without: 200 with the connection, or a problem with the same error code. With CONNECT_VERIFY_URL set, a successful flow creates nothing yet and answers 302 to that URL with a flow_id, whatever return_to says (see POST /v1/connect-verifications).",
  request: { params: ProviderIdParam, query: CallbackQuery },
  responses: {
    200: { description: "Connected", content: { "application/json": { schema: z.object({ connection: ConnectionSchema }) } } },
    302: { description: "Back to return_to with the outcome, or on to CONNECT_VERIFY_URL with a flow_id" },
    400: problem("Invalid state, provider error or issuer mismatch"),
    403: problem("Fewer scopes granted than requested"),
    502: problem("Exchange, id_token or identity failure"),
  },
});

/** Codes and URLs in the browser's address bar must not leak to other sites (RFC 9700 §4.2.4). */
function noReferrer(c: Context): void {
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

function outcomeProblem(outcome: Exclude<SettledCallbackOutcome, { kind: "connected" }>): ProblemError {
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

function outcomeParams(outcome: SettledCallbackOutcome): Record<string, string> {
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

export const oauthRoutes = createBrowserRouter()
  .openapi(start, async (c) => {
    noReferrer(c);
    // A HEAD gets the same answer without its body (RFC 9110 §9.3.2; hono answers HEAD with the GET route).
    if (!isNavigation(c)) return c.text(NOT_A_NAVIGATION_NOTE, 200);
    const services = c.get("services");
    const now = services.clock();
    const redirect = await redirectToProvider(services, {
      providerId: c.req.valid("param").provider,
      state: c.req.valid("query").state,
      now,
    });
    bindBrowser(c, services.config, redirect.pending, now);
    return c.redirect(redirect.providerUrl.toString(), 302);
  })
  .openapi(callback, async (c) => {
    noReferrer(c);
    const services = c.get("services");
    const { pending, outcome } = await completeConnect(services, {
      providerId: c.req.valid("param").provider,
      params: c.req.valid("query"),
      isBoundBrowser: (candidate) => isBoundBrowser(c, candidate),
      client: requestClient(c),
      now: services.clock(),
    });
    unbindBrowser(c, services.config, pending.bindingId);
    // CONNECT_VERIFY_URL: the application's verify URL with the flow_id, whatever return_to says.
    if (outcome.kind === "verification_required") return c.redirect(outcome.verifyUrl, 302);
    if (pending.returnTo) return c.redirect(returnUrlWith(pending.returnTo, outcomeParams(outcome)), 302);
    if (outcome.kind === "connected") return c.json({ connection: presentConnection(outcome.connection) }, 200);
    throw outcomeProblem(outcome);
  });
