import { describe, expect, it } from "vitest";
import { describeOffers, type Offer } from "../../src/connect-sessions/offers";
import { openerMessage, readResult } from "../../src/connect-sessions/results";
import { getConfig } from "../../src/config";
import { integrationCatalogue } from "../../src/integrations/catalogue";
import { getProviderRegistry } from "../../src/providers/registry";
import type { ConnectSession } from "../../src/storage/connect-sessions";
import type { ConnectionRow } from "../../src/storage/schema";
import { env } from "cloudflare:workers";
import { connectionRow } from "../support/connection-rows";
import { cipherFor, K2 } from "../support/seed-connections";

const config = getConfig(env);
const session: ConnectSession = {
  userId: "results-user",
  integrations: ["google-calendar", "no-longer-declared"],
  providers: ["google", "no-longer-configured"],
  returnTo: null,
  openerOrigin: null,
  displayName: null,
  email: null,
  locale: null,
  createdAt: 0,
  expiresAt: 1,
};

async function googleRow(options: Partial<Parameters<typeof connectionRow>[1]> = {}): Promise<ConnectionRow> {
  return connectionRow(cipherFor(K2), { userId: session.userId, provider: "google", accountEmail: "ada@example.com", now: 0, ...options });
}

function offers(connections: ConnectionRow[] = []): Offer[] {
  return describeOffers(session, {
    providers: getProviderRegistry(config),
    catalogue: integrationCatalogue(config),
    connections,
    activations: [],
  });
}

describe("the session's offers", () => {
  it("leave out what no longer exists, integrations first, then providers", () => {
    expect(offers().map((offer) => offer.key)).toEqual(["integration:google-calendar", "provider:google"]);
  });

  it("name an account by its email, else its name, else its id at the provider", async () => {
    const [withEmail, withName, bare] = await Promise.all([
      googleRow(),
      googleRow({ accountEmail: null }).then((row) => ({ ...row, accountName: "Ada" })),
      googleRow({ accountEmail: null, accountId: "108" }),
    ]);
    const labels = offers([withEmail, withName, bare])
      .find((offer) => offer.key === "provider:google")!
      .accounts.map((a) => a.label);
    expect(labels).toEqual(["ada@example.com", "Ada", "108"]);
  });
});

describe("the result a page query describes", () => {
  it.each([
    ["access_denied", "declined"],
    ["exchange_failed", "transient"],
    ["identity_failed", "transient"],
    ["temporarily_unavailable", "transient"],
    ["server_error", "transient"],
    ["invalid_id_token", "untrusted"],
    ["issuer_mismatch", "untrusted"],
    ["invalid_scope", "refused"],
    ["scope_not_granted", "refused"],
  ])("error=%s is %s", (error, kind) => {
    expect(readResult({ offer: "provider:google", error }, offers(), null)?.kind).toBe(kind);
  });

  it("names the account of a partial grant, and offers the reconnection of a transient failure's account", async () => {
    const row = await googleRow();
    expect(readResult({ offer: "provider:google", error: "scope_not_granted" }, offers([row]), row)).toMatchObject({
      kind: "scopes_missing",
      account: "ada@example.com",
      connectionId: row.id,
    });
    expect(readResult({ offer: "provider:google", error: "exchange_failed" }, offers([row]), row)).toMatchObject({
      kind: "transient",
      retryConnectionId: row.id,
    });
  });

  it("turns an error code that is not a plain OAuth code into authorization_failed", () => {
    expect(readResult({ offer: "provider:google", error: "<script>" }, offers(), null)).toMatchObject({
      kind: "refused",
      error: "authorization_failed",
    });
  });

  it("describes nothing for an offer the session lacks, an unknown status, or a connection of another provider", async () => {
    const notion = await googleRow({ provider: "notion" });
    expect(readResult({ offer: "provider:notion", status: "connected" }, offers(), null)).toBeNull();
    expect(readResult({ offer: "provider:google", status: "celebrated" }, offers(), null)).toBeNull();
    expect(readResult({ offer: "provider:google", status: "connected", connection_id: notion.id }, offers(), notion)).toBeNull();
    expect(readResult({ offer: "provider:google", status: "disconnected", connection_id: "not an id" }, offers(), null)).toBeNull();
  });

  it.each([
    [
      { status: "disconnected", connection_id: "conn_gone" },
      { type: "connect.disconnected", provider: "google", connection_id: "conn_gone" },
    ],
    [{ status: "disconnect_failed" }, { type: "connect.error", provider: "google", error: "disconnect_failed" }],
    [{ error: "access_denied" }, { type: "connect.error", provider: "google", error: "access_denied" }],
    [{ error: "exchange_failed" }, { type: "connect.error", provider: "google", error: "exchange_failed" }],
  ])("tells the opener %j as %j", (params, message) => {
    expect(openerMessage(readResult({ offer: "provider:google", ...params }, offers(), null)!)).toEqual(message);
  });

  it("tells the opener a partial grant as connected, with the error, and an integration's key", async () => {
    const row = await googleRow();
    const result = readResult({ offer: "integration:google-calendar", error: "scope_not_granted" }, offers([row]), row)!;
    expect(openerMessage(result)).toEqual({
      type: "connect.connected",
      provider: "google",
      integration: "google-calendar",
      connection_id: row.id,
      error: "scope_not_granted",
    });
  });
});
