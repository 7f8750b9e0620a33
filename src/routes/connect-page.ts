/**
 * The hosted connect page (docs/http-api.md, "Connect sessions and the connect page"): the link's landing page, the
 * Continue that binds it to a browser, the page itself and its forms. Every answer is HTML, errors included.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bindLink, landOnLink, sessionForBrowser, type OpenSession } from "../connect-sessions/access";
import { disconnectAccount, offeredRef, pagePath, startOffer } from "../connect-sessions/actions";
import { presentedBinding, setBindingCookie } from "../connect-sessions/binding-cookie";
import { loadOffers } from "../connect-sessions/offers";
import { openerMessage, readResult } from "../connect-sessions/results";
import { asProblem } from "../errors";
import type { AppEnv } from "../http/env";
import { requestClient } from "../http/request-client";
import { createPageRouter, createPublicRouter } from "../http/routers";
import { SCRIPT, SCRIPT_PATH, STYLESHEET, STYLESHEET_PATH } from "../pages/assets";
import { renderConnectPage } from "../pages/connect-page";
import { renderLanding } from "../pages/landing";
import { chooseLanguage, messagesFor, type Language, type Messages } from "../pages/messages";
import { renderNotice } from "../pages/notice";
import { problemNotice } from "../pages/outcome-notices";
import { findConnection } from "../storage/connections";
import type { ConnectSession } from "../storage/connect-sessions";
import { SESSION_ID_PATTERN } from "../storage/connect-sessions";

const HTML = { "text/html": { schema: z.string() } };
const page = (description: string) => ({ description, content: HTML });

const SessionIdParam = z.object({
  id: z
    .string()
    .regex(SESSION_ID_PATTERN, "must be a connect session id")
    .openapi({ param: { name: "id", in: "path" }, example: "Qm9vdHN0cmFwLXNlc3Npb24taWQtZXhhbXBsZS0wMDA" }),
});
const OfferField = z.string().regex(/^(provider|integration):[a-z][a-z0-9-]{1,47}$/, "must name an offer");
const ConnectionIdField = z.string().regex(/^conn_[A-Za-z0-9_-]{1,64}$/, "must be a connection id");

const landing = createRoute({
  method: "get",
  path: "/connect",
  summary: "Open a connect link",
  description:
    "Shows whom the link is for and a Continue button; spends nothing (link scanners and previews open links first). An unknown or expired link gets a page that says so.",
  request: { query: z.object({ session: z.string().max(256).optional() }) },
  responses: {
    200: page("The landing page"),
    303: { description: "This browser holds the link already: to its page" },
    404: page("Unknown or expired link"),
  },
});

const bind = createRoute({
  method: "post",
  path: "/connect",
  summary: "Continue: bind the link to this browser",
  description:
    "The first browser to post this holds the session (an HttpOnly, SameSite=Lax cookie named per session, Path=/connect) and is sent to the page's URL, which carries only the session id. Any other browser is refused.",
  request: {
    body: {
      required: true,
      content: { "application/x-www-form-urlencoded": { schema: z.object({ session: z.string().min(1).max(256) }) } },
    },
  },
  responses: {
    303: { description: "Bound: to the page" },
    403: page("Bound to another browser, or a form from another site"),
    404: page("Unknown or expired link"),
  },
});

const ResultQuery = z.object({
  offer: z.string().max(128).optional(),
  status: z.string().max(64).optional(),
  connection_id: z.string().max(128).optional(),
  error: z.string().max(256).optional(),
});

const view = createRoute({
  method: "get",
  path: "/connect/{id}",
  summary: "The connect page",
  description:
    "Each offered integration or provider with its state for the user and buttons to connect, reconnect and disconnect; the last result (`offer`, `status`, `connection_id`, `error`, as the callback or a form left them); Done.",
  request: { params: SessionIdParam, query: ResultQuery },
  responses: { 200: page("The page"), 403: page("Another browser holds this session"), 404: page("Unknown or expired session") },
});

/** How the page's forms (start, disconnect) are refused. */
const OFFER_FORM_REFUSALS = {
  400: page("Not an offer of this session"),
  403: page("Another browser holds this session, or a form from another site"),
  404: page("Unknown or expired session"),
};

const start = createRoute({
  method: "post",
  path: "/connect/{id}/start",
  summary: "Connect or reconnect an offer",
  request: {
    params: SessionIdParam,
    body: {
      required: true,
      content: {
        "application/x-www-form-urlencoded": { schema: z.object({ offer: OfferField, connection_id: ConnectionIdField.optional() }) },
      },
    },
  },
  responses: {
    303: { description: "To the flow's start URL, or back to the page when nothing needed the provider" },
    ...OFFER_FORM_REFUSALS,
  },
});

const disconnect = createRoute({
  method: "post",
  path: "/connect/{id}/disconnect",
  summary: "Disconnect an account the page shows",
  description: "As DELETE /v1/connections/{id}: the tokens are wiped, the connection removed and its grant revoked upstream.",
  request: {
    params: SessionIdParam,
    body: {
      required: true,
      content: { "application/x-www-form-urlencoded": { schema: z.object({ offer: OfferField, connection_id: ConnectionIdField }) } },
    },
  },
  responses: { 303: { description: "Back to the page with the result" }, ...OFFER_FORM_REFUSALS },
});

const done = createRoute({
  method: "get",
  path: "/connect/{id}/done",
  summary: "The end of a visit without a return_to",
  request: { params: SessionIdParam },
  responses: { 200: page("You can close this window") },
});

function languageOf(c: Context, session: ConnectSession | null): Language {
  return chooseLanguage(session?.locale ?? null, c.req.header("Accept-Language"));
}

/** Whom the session is for, as the page names them. */
function whoOf(session: ConnectSession): string | null {
  return session.displayName ?? session.email;
}

async function notice(
  c: Context,
  language: Language,
  status: 200 | 403 | 404,
  text: (messages: Messages) => { title: string; paragraphs: string[] },
) {
  return c.html(await renderNotice({ language, ...text(messagesFor(language)) }), status);
}

const expired = (c: Context, language: Language) =>
  notice(c, language, 404, (messages) => ({ title: messages.expiredTitle, paragraphs: [messages.expiredBody] }));
const elsewhere = (c: Context, session: ConnectSession) =>
  notice(c, languageOf(c, session), 403, (messages) => ({ title: messages.elsewhereTitle, paragraphs: [messages.elsewhereBody] }));

/** The session of a page request from the browser that holds it; otherwise the page that says why not. */
async function heldSession(c: Context<AppEnv>, sessionId: string): Promise<OpenSession | Response> {
  const services = c.get("services");
  const access = await sessionForBrowser(services, sessionId, presentedBinding(c), services.clock());
  switch (access.kind) {
    case "unknown":
      return expired(c, languageOf(c, null));
    case "elsewhere":
      return elsewhere(c, access.session);
    case "open":
      // What the page does next (a flow begun, a connection removed) is the user's doing, in the audit trail too.
      services.audit.attribute(access.session.userId, "user");
      return access;
  }
}

export const connectPageRoutes = createPageRouter()
  .openapi(landing, async (c) => {
    const services = c.get("services");
    const secret = c.req.valid("query").session;
    if (secret === undefined) return expired(c, languageOf(c, null));
    const opened = await landOnLink(services, secret, presentedBinding(c), services.clock());
    switch (opened.kind) {
      case "unknown":
        return expired(c, languageOf(c, null));
      case "bound_here":
        return c.redirect(pagePath(opened.sessionId), 303);
      case "landing": {
        const language = languageOf(c, opened.session);
        const html = await renderLanding({ language, messages: messagesFor(language), secret, who: whoOf(opened.session) });
        return c.html(html, 200);
      }
    }
  })
  .openapi(bind, async (c) => {
    const services = c.get("services");
    const now = services.clock();
    const bound = await bindLink(services, c.req.valid("form").session, presentedBinding(c), now);
    switch (bound.kind) {
      case "unknown":
        return expired(c, languageOf(c, null));
      case "elsewhere":
        return elsewhere(c, bound.session);
      case "bound":
        setBindingCookie(c, services.config, { ...bound, expiresAt: bound.session.expiresAt }, now);
        // 303: the browser follows with a GET, and the secret leaves the address bar.
        return c.redirect(pagePath(bound.sessionId), 303);
    }
  })
  .openapi(view, async (c) => {
    const services = c.get("services");
    const held = await heldSession(c, c.req.valid("param").id);
    if (held instanceof Response) return held;
    const { session, sessionId } = held;
    const query = c.req.valid("query");
    const [offers, connection] = await Promise.all([
      loadOffers(services, session),
      query.connection_id ? findConnection(services.db, { userId: session.userId, id: query.connection_id }) : null,
    ]);
    const result = readResult(query, offers, connection);
    const language = languageOf(c, session);
    const html = await renderConnectPage({
      language,
      messages: messagesFor(language),
      sessionId,
      who: whoOf(session),
      offers,
      result,
      doneHref: session.returnTo ?? `${pagePath(sessionId)}/done`,
      opener: session.openerOrigin ? { origin: session.openerOrigin, message: result ? openerMessage(result) : null } : null,
    });
    return c.html(html, 200);
  })
  .openapi(start, async (c) => {
    const services = c.get("services");
    const held = await heldSession(c, c.req.valid("param").id);
    if (held instanceof Response) return held;
    const form = c.req.valid("form");
    const started = await startOffer(services, {
      ...held,
      ref: offeredRef(held.session, form.offer),
      connectionId: form.connection_id,
      client: requestClient(c),
      now: services.clock(),
    });
    return c.redirect(started.kind === "flow" ? started.startUrl : started.pagePath, 303);
  })
  .openapi(disconnect, async (c) => {
    const services = c.get("services");
    const held = await heldSession(c, c.req.valid("param").id);
    if (held instanceof Response) return held;
    const form = c.req.valid("form");
    // Refuses a form that names no offer of this session, as the start form is refused.
    offeredRef(held.session, form.offer);
    const removed = await disconnectAccount(services, {
      session: held.session,
      connectionId: form.connection_id,
      client: requestClient(c),
    });
    // An account already gone is disconnected, as far as the person is concerned.
    const status = removed === "wipe_failed" ? "disconnect_failed" : "disconnected";
    return c.redirect(pagePath(held.sessionId, { offer: form.offer, status, connection_id: form.connection_id }), 303);
  })
  .openapi(done, async (c) => {
    const held = await heldSession(c, c.req.valid("param").id);
    if (held instanceof Response) return held;
    return notice(c, languageOf(c, held.session), 200, (messages) => ({ title: messages.doneTitle, paragraphs: [messages.doneBody] }));
  })
  .onError(async (error, c) => {
    const problem = asProblem(error);
    const language = languageOf(c, null);
    const text = problemNotice(messagesFor(language), problem, c.get("requestId"));
    return c.html(await renderNotice({ language, ...text }), problem.status, problem.headers);
  });

/** The pages' stylesheet and script: files of the service's own origin, as the pages' CSP requires. */
export const connectPageAssetRoutes = createPublicRouter();

// Revalidated on each use: a deployment that changes them is seen at once.
connectPageAssetRoutes.get(STYLESHEET_PATH, (c) =>
  c.body(STYLESHEET, 200, { "Content-Type": "text/css; charset=utf-8", "Cache-Control": "no-cache" }),
);
connectPageAssetRoutes.get(SCRIPT_PATH, (c) =>
  c.body(SCRIPT, 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-cache" }),
);
