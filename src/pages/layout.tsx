/** The document every hosted page shares: language, viewport, colour schemes, the one stylesheet, and the opener script. */
import type { Child } from "hono/jsx";
import type { HtmlEscapedString } from "hono/utils/html";
import { SCRIPT_PATH, STYLESHEET_PATH } from "./assets";
import type { Language } from "./messages";

/** What a page opened as a popup tells its opener: the origin it may address, and the message, if there is one. */
export interface OpenerReport {
  origin: string;
  message: Record<string, string> | null;
}

export interface LayoutProps {
  language: Language;
  title: string;
  /** Present on the connect page of a session with an `opener_origin`; the script is loaded only then. */
  opener?: OpenerReport | null;
  children?: Child;
}

export function Layout({ language, title, opener = null, children }: LayoutProps) {
  return (
    <html lang={language}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>{title}</title>
        {/* A data: icon spares the browser a request for /favicon.ico. */}
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href={STYLESHEET_PATH} />
        {opener && <script src={SCRIPT_PATH} defer></script>}
      </head>
      <body>
        <main data-opener-origin={opener?.origin} data-opener-message={opener?.message ? JSON.stringify(opener.message) : undefined}>
          {children}
        </main>
      </body>
    </html>
  );
}

/** A page as the response body: the doctype, then the rendered tree (hono/jsx escapes every text and attribute). */
export async function renderDocument(page: HtmlEscapedString | Promise<HtmlEscapedString>): Promise<string> {
  return `<!doctype html>${String(await page)}`;
}
