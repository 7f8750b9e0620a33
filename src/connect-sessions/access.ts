/**
 * Who may use a connect session. Opening the link spends nothing (link scanners and previews open links before
 * people do); Continue binds the session to that browser once, through a claim in the user's Durable Object (KV
 * cannot make anything single-use); every later request must come from that browser.
 */
import { sha256Base64url } from "../crypto/digest";
import { randomToken } from "../crypto/random";
import type { Services } from "../services";
import { connectSessionId, loadConnectSession, type ConnectSession } from "../storage/connect-sessions";
import { userVault } from "../vault/user-vault";

/** The binding cookie a browser presents for a session, if any. */
export type PresentedBinding = (sessionId: string) => string | undefined;

export interface OpenSession {
  sessionId: string;
  session: ConnectSession;
}

/** The landing page of a link: unknown or expired, bound to this browser already, or waiting for Continue. */
export type LinkLanding = { kind: "unknown" } | ({ kind: "bound_here" } & OpenSession) | ({ kind: "landing" } & OpenSession);

/** Continue: unknown or expired, bound to another browser, or now bound to this one with `cookieValue`. */
export type LinkBinding =
  { kind: "unknown" } | { kind: "elsewhere"; session: ConnectSession } | ({ kind: "bound"; cookieValue: string } & OpenSession);

/** A request for the page: unknown or expired, from another browser, or from the bound browser. */
export type SessionAccess = { kind: "unknown" } | { kind: "elsewhere"; session: ConnectSession } | ({ kind: "open" } & OpenSession);

function claimName(sessionId: string): string {
  return `connect-session:${sessionId}`;
}

async function isBoundHere(services: Services, open: OpenSession, cookieValue: string | undefined): Promise<boolean> {
  if (cookieValue === undefined) return false;
  return userVault(services.env, open.session.userId).isBoundTo(claimName(open.sessionId), await sha256Base64url(cookieValue));
}

/** What opening the link shows. Reads only: the session stays unbound. */
export async function landOnLink(services: Services, secret: string, presented: PresentedBinding, now: number): Promise<LinkLanding> {
  const sessionId = await connectSessionId(secret);
  const session = await loadConnectSession(services.env.AUTH_STATE, sessionId, now);
  if (!session) return { kind: "unknown" };
  const open = { sessionId, session };
  return (await isBoundHere(services, open, presented(sessionId))) ? { kind: "bound_here", ...open } : { kind: "landing", ...open };
}

/**
 * Binds the session to this browser, once: the first browser to press Continue holds it until it expires. The same
 * browser pressing Continue again (a second tab, the back button) presents its cookie and is let through.
 */
export async function bindLink(services: Services, secret: string, presented: PresentedBinding, now: number): Promise<LinkBinding> {
  const sessionId = await connectSessionId(secret);
  const session = await loadConnectSession(services.env.AUTH_STATE, sessionId, now);
  if (!session) return { kind: "unknown" };
  const cookieValue = presented(sessionId) ?? randomToken();
  const bound = await userVault(services.env, session.userId).bindOnce(
    claimName(sessionId),
    await sha256Base64url(cookieValue),
    session.expiresAt,
  );
  return bound ? { kind: "bound", cookieValue, sessionId, session } : { kind: "elsewhere", session };
}

/** The session behind a page URL, for the browser that holds it. */
export async function sessionForBrowser(
  services: Services,
  sessionId: string,
  presented: PresentedBinding,
  now: number,
): Promise<SessionAccess> {
  const session = await loadConnectSession(services.env.AUTH_STATE, sessionId, now);
  if (!session) return { kind: "unknown" };
  const open = { sessionId, session };
  return (await isBoundHere(services, open, presented(sessionId))) ? { kind: "open", ...open } : { kind: "elsewhere", session };
}
