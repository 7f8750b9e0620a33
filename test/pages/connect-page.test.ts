import { describe, expect, it } from "vitest";
import type { Offer } from "../../src/connect-sessions/offers";
import type { PageResult } from "../../src/connect-sessions/results";
import { renderConnectPage } from "../../src/pages/connect-page";
import { CATALOGUE, type Language } from "../../src/pages/messages";
import { buttonsOf, textOf } from "../connect-sessions/page-browser";

const offer: Offer = {
  ref: { kind: "provider", id: "google" },
  key: "provider:google",
  name: "Google",
  description: null,
  providerId: "google",
  providerName: "Google",
  available: true,
  accounts: [],
};

function render(language: Language, result: PageResult | null, offers: Offer[] = [offer]): Promise<string> {
  return renderConnectPage({
    language,
    messages: CATALOGUE[language],
    sessionId: "S".repeat(43),
    who: null,
    offers,
    result,
    doneHref: "/done",
    opener: null,
  });
}

const RESULTS: [PageResult, (language: Language) => string][] = [
  [
    { kind: "connected", offer, account: "ada@example.com", connectionId: "conn_1" },
    (l) => CATALOGUE[l].resultConnected("ada@example.com"),
  ],
  [
    { kind: "scopes_missing", offer, account: "ada@example.com", connectionId: "conn_1" },
    (l) => CATALOGUE[l].resultScopesMissing("ada@example.com"),
  ],
  [{ kind: "disconnected", offer, connectionId: "conn_1" }, (l) => CATALOGUE[l].resultDisconnected("Google")],
  [{ kind: "disconnect_failed", offer }, (l) => CATALOGUE[l].resultDisconnectFailed("Google")],
  [{ kind: "declined", offer }, (l) => CATALOGUE[l].resultDeclined],
  [{ kind: "transient", offer, error: "exchange_failed", retryConnectionId: null }, (l) => CATALOGUE[l].resultTransient("Google")],
  [{ kind: "untrusted", offer, error: "issuer_mismatch" }, (l) => CATALOGUE[l].resultUntrusted("Google")],
  [{ kind: "refused", offer, error: "invalid_scope" }, (l) => CATALOGUE[l].resultRefused("Google", "invalid_scope")],
];

describe("the connect page's results", () => {
  it.each(
    (Object.keys(CATALOGUE) as Language[]).flatMap((language) =>
      RESULTS.map(([result, text]) => [language, result.kind, result, text] as const),
    ),
  )("in %s, says %s in the catalogue's words, as a status message", async (language, _kind, result, text) => {
    const html = await render(language, result);
    expect(html).toContain('role="status"');
    expect(textOf(html)).toContain(text(language));
  });

  it("offers a retry of the same account's reconnection after a transient failure", async () => {
    const html = await render("en", { kind: "transient", offer, error: "exchange_failed", retryConnectionId: "conn_1" });
    expect(buttonsOf(html).find((button) => button.name === "Try again")?.fields).toEqual({
      offer: "provider:google",
      connection_id: "conn_1",
    });
  });

  it("shows an offer whose provider lost its credentials as unavailable, with nothing to press", async () => {
    const html = await render("en", null, [{ ...offer, available: false }]);
    expect(textOf(html)).toContain("Google Not available at the moment");
    expect(buttonsOf(html)).toEqual([]);
  });

  it("shows an integration's description", async () => {
    const html = await render("en", null, [
      { ...offer, ref: { kind: "integration", key: "gmail" }, key: "integration:gmail", name: "Gmail", description: "Read your mail." },
    ]);
    expect(textOf(html)).toContain("Gmail Not connected Read your mail.");
  });
});
