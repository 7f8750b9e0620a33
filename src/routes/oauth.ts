/** The browser's side of the connect flow: the start URL and the provider's callback (state and cookie, no bearer token). */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bindBrowser, isBoundBrowser, unbindBrowser } from "../connect/browser-binding";
import { completeConnect, type SettledCallbackOutcome } from "../connect/complete";
import { redirectToProvider } from "../connect/redirect-to-provider";
import { returnUrlWith } from "../connect/return-to";
import { accountLabel } from "../connect-sessions/offers";
import { presentConnection } from "../connections/present";
import { asProblem, ProblemError, type ProblemType } from "../errors";
import type { AppEnv } from "../http/env";
import { prefersHtml } from "../http/prefers-html";
import { requestClient } from "../http/request-client";
import { createBrowserRouter, PAGE_CONTENT_SECURITY_POLICY } from "../http/routers";
import { ConnectionSchema, problem, ProviderIdParam } from "../http/schemas";
import { chooseLanguage, messagesFor } from "../pages/messages";
import { renderNotice } from "../pages/notice";
import { callbackNotice, type CallbackView } from "../pages/outcome-notices";

/** The same outcome as a page, for a request that prefers HTML. */
const HTML_PAGE = { "text/html": { schema: z.string() } };

function withPage<T extends { content: object }>(response: T): T {
  return { ...response, content: { ...response.content, ...HTML_PAGE } };
}

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
    400: withPage(problem("Unknown, expired or used state")),
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
    "Needs the state and the cookie set by the start URL. With a return_to: 302 to it with status=connected&connection_id=… or error=…. Without: 200 with the connection, or a problem with the same error code; a request that prefers HTML (`Accept: text/html`, as a browser sends) gets each outcome as a readable page with the same status. With CONNECT_VERIFY_URL set, a successful flow creates nothing yet and answers 302 to that URL with a flow_id, whatever return_to says (see POST /v1/connect-verifications).",
  request: { params: ProviderIdParam, query: CallbackQuery },
  responses: {
    200: {
      description: "Connected",
      content: { "application/json": { schema: z.object({ connection: ConnectionSchema }) }, ...HTML_PAGE },
    },
    302: { description: "Back to return_to with the outcome, or on to CONNECT_VERIFY_URL with a flow_id" },
    400: withPage(problem("Invalid state, provider error or issuer mismatch")),
    403: withPage(problem("Fewer scopes granted than requested")),
    502: withPage(problem("Exchange, id_token or identity failure")),
  },
});

/**
 * Codes and URLs in the browser's address bar must not leak to other sites (RFC 9700 §4.2.4), nor be cached. A flow
 * begun in a popup keeps its opener through the provider and back (`unsafe-none`: the default `same-origin` cuts it).
 */
function browserFlowHeaders(c: Context): void {
  c.header("Referrer-Policy", "no-referrer");
  c.header("Cache-Control", "no-store");
  c.header("Cross-Origin-Opener-Policy", "unsafe-none");
}

/** An outcome as a page for a person, in their browser's language, with the status its JSON form would have. */
async function outcomePage(c: Context<AppEnv>, view: CallbackView, problem: ProblemError | null): Promise<Response> {
  const language = chooseLanguage(null, c.req.header("Accept-Language"));
  const notice = callbackNotice(messagesFor(language), view);
  c.header("Content-Security-Policy", PAGE_CONTENT_SECURITY_POLICY);
  return c.html(await renderNotice({ language, ...notice }), problem?.status ?? 200, problem?.headers ?? {});
}

/** A problem thrown before any outcome (the state, the provider's availability), for a person. */
function problemView(c: Context<AppEnv>, problem: ProblemError): CallbackView {
  return problem.type === "invalid-state" ? { kind: "invalid_state" } : { kind: "problem", problem, requestId: c.get("requestId") };
}

/** A callback's outcome, for a person. */
function outcomeView(c: Context<AppEnv>, providerId: string, outcome: SettledCallbackOutcome): CallbackView {
  const provider = c.get("services").providers.get(providerId)?.name ?? providerId;
  switch (outcome.kind) {
    case "connected":
      return { kind: "connected", provider, account: accountLabel(outcome.connection) };
    case "provider_error":
      return outcome.error === "access_denied" ? { kind: "declined" } : { kind: "refused", provider, error: outcome.error };
    case "failed":
      switch (outcome.error) {
        case "scope_not_granted":
          return outcome.connection
            ? { kind: "scopes_missing", provider, account: accountLabel(outcome.connection) }
            : { kind: "refused", provider, error: outcome.error };
        case "exchange_failed":
        case "identity_failed":
          return { kind: "transient", provider };
        case "invalid_id_token":
        case "issuer_mismatch":
          return { kind: "untrusted", provider };
      }
  }
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

/**
 * Runs a step of the flow; for a request that prefers HTML, a problem it throws becomes a page with the same status.
 * Problems raised before the step (validation, the address limit) stay problem+json.
 */
async function forPersonOnFailure(c: Context<AppEnv>, step: () => Promise<Response>): Promise<Response> {
  try {
    return await step();
  } catch (error) {
    if (!prefersHtml(c.req.header("Accept")) || !(error instanceof Error)) throw error;
    const problem = asProblem(error);
    return outcomePage(c, problemView(c, problem), problem);
  }
}

export const oauthRoutes = createBrowserRouter()
  .openapi(start, async (c) => {
    browserFlowHeaders(c);
    // A HEAD gets the same answer without its body (RFC 9110 §9.3.2; hono answers HEAD with the GET route).
    if (!isNavigation(c)) return c.text(NOT_A_NAVIGATION_NOTE, 200);
    return forPersonOnFailure(c, async () => {
      const services = c.get("services");
      const now = services.clock();
      const redirect = await redirectToProvider(services, {
        providerId: c.req.valid("param").provider,
        state: c.req.valid("query").state,
        now,
      });
      bindBrowser(c, services.config, redirect.pending, now);
      return c.redirect(redirect.providerUrl.toString(), 302);
    });
  })
  .openapi(callback, async (c) => {
    browserFlowHeaders(c);
    return forPersonOnFailure(c, async () => {
      const services = c.get("services");
      const providerId = c.req.valid("param").provider;
      const { pending, outcome } = await completeConnect(services, {
        providerId,
        params: c.req.valid("query"),
        isBoundBrowser: (candidate) => isBoundBrowser(c, candidate),
        client: requestClient(c),
        now: services.clock(),
      });
      unbindBrowser(c, services.config, pending.bindingId);
      // CONNECT_VERIFY_URL: the application's verify URL with the flow_id, whatever return_to or Accept say.
      if (outcome.kind === "verification_required") return c.redirect(outcome.verifyUrl, 302);
      if (pending.returnTo) return c.redirect(returnUrlWith(pending.returnTo, outcomeParams(outcome)), 302);
      const forPerson = prefersHtml(c.req.header("Accept"));
      if (outcome.kind === "connected") {
        if (forPerson) return outcomePage(c, outcomeView(c, providerId, outcome), null);
        return c.json({ connection: presentConnection(outcome.connection) }, 200);
      }
      const problem = outcomeProblem(outcome);
      if (forPerson) return outcomePage(c, outcomeView(c, providerId, outcome), problem);
      throw problem;
    });
  });
