/**
 * The connect page the way a person without JavaScript uses it, in workerd: the cookie browser (test/support/browser.ts)
 * opens the link, reads the page's buttons by their accessible names and submits the form around the one it "clicks".
 */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { ConnectSessionBody } from "../support/api-client";
import { Browser } from "../support/browser";
import { service } from "../support/toolkit";
import { newUserId } from "../support/users";
import { WORKER_ORIGIN } from "../support/worker";

export interface Session {
  userId: string;
  connectUrl: string;
  /** The link's secret (its `session` parameter). */
  secret: string;
}

/** A connect session of a user of its own. */
export async function newSession(label: string, body: ConnectSessionBody = {}): Promise<Session> {
  const userId = newUserId(label);
  const { connect_url } = await service.connectSession(userId, body);
  return { userId, connectUrl: connect_url, secret: new URL(connect_url).searchParams.get("session")! };
}

export interface PageForm {
  action: string;
  fields: Record<string, string>;
}

export interface PageButton extends PageForm {
  /** The accessible name: `aria-label`, else the text. */
  name: string;
}

/** Undoes the escaping hono/jsx applies to text and attribute values. */
function unescape(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

function attribute(tag: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return match ? unescape(match[1]!) : undefined;
}

/** Every submit button of the page's forms, with the form it submits. */
export function buttonsOf(html: string): PageButton[] {
  const buttons: PageButton[] = [];
  for (const [, formTag, body] of html.matchAll(/(<form\b[^>]*>)([\s\S]*?)<\/form>/g)) {
    const fields: Record<string, string> = {};
    for (const [input] of body!.matchAll(/<input\b[^>]*>/g)) fields[attribute(input, "name")!] = attribute(input, "value") ?? "";
    for (const [, buttonTag, text] of body!.matchAll(/(<button\b[^>]*>)([\s\S]*?)<\/button>/g)) {
      const name = attribute(buttonTag!, "aria-label") ?? unescape(text!.replace(/<[^>]*>/g, "").trim());
      buttons.push({ name, action: attribute(formTag!, "action")!, fields });
    }
  }
  return buttons;
}

/** The visible text of a page, tags dropped and white space folded. */
export function textOf(html: string): string {
  return unescape(
    html
      .replace(/<(script|style)\b[\s\S]*?<\/\1>/g, " ")
      .replace(/<[^>]*>/g, " ")
      .replace(/\s+/g, " ")
      .trim(),
  );
}

/** The page the person looks at: its URL and HTML. */
export interface Viewed {
  url: URL;
  status: number;
  html: string;
}

/** A browser on the connect page: follows redirects like a browser, remembers where it is. */
export class PageBrowser extends Browser {
  /** Opens `url` (a path: on the service) and follows redirects to the page they end on. */
  async open(url: string | URL): Promise<Viewed> {
    const { response, chain } = await this.follow(new URL(url, WORKER_ORIGIN));
    return { url: new URL(chain.at(-1)!), status: response.status, html: await response.text() };
  }

  /**
   * Submits the form of the button named `name` on `viewed` and follows where it leads on the service's own origin;
   * stops before any other origin (the provider) and returns that URL in `leftFor`.
   */
  async click(viewed: Viewed, name: string, headers: Record<string, string> = {}): Promise<Viewed & { leftFor: URL | null }> {
    const button = buttonsOf(viewed.html).find((candidate) => candidate.name === name);
    if (!button)
      throw new Error(
        `no button named "${name}" among: ${buttonsOf(viewed.html)
          .map((b) => b.name)
          .join(" | ")}`,
      );
    const response = await this.submit(new URL(button.action, viewed.url), button.fields, headers);
    const location = response.headers.get("location");
    if (response.status !== 303 || location === null)
      return { url: viewed.url, status: response.status, html: await response.text(), leftFor: null };
    const next = new URL(location, viewed.url);
    if (next.origin !== WORKER_ORIGIN || next.pathname.startsWith("/v1/oauth/"))
      return { url: viewed.url, status: 303, html: "", leftFor: next };
    return { ...(await this.open(next)), leftFor: null };
  }

  /** Opens the link and presses Continue: the page of the session, bound to this browser. */
  async continueTo(connectUrl: string): Promise<Viewed> {
    const landing = await this.open(connectUrl);
    expect(landing.status, landing.html).toBe(200);
    const page = await this.click(landing, "Continue");
    expect(page.status, page.html).toBe(200);
    return page;
  }
}

/** The stored connect sessions: KV key and raw value. */
export async function storedSessions(): Promise<{ name: string; value: string; expiration?: number }[]> {
  const listed = await env.AUTH_STATE.list({ prefix: "connect-session:" });
  return Promise.all(
    listed.keys.map(async (key) => ({
      name: key.name,
      value: (await env.AUTH_STATE.get(key.name)) ?? "",
      ...(key.expiration === undefined ? {} : { expiration: key.expiration }),
    })),
  );
}
