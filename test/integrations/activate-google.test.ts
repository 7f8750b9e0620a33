import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { Browser } from "../support/browser";
import { authorizeInBrowser, finishInBrowser } from "../support/connect-flow";
import {
  activate,
  activateOk,
  allConsents,
  auditRowsOf,
  connectGoogle,
  deactivate,
  integration,
  integrations,
} from "../support/integration-helpers";
import { newMockId } from "../support/mock-control";
import { expectProblem } from "../support/problems";
import { service } from "../support/toolkit";
import { newUserId } from "../support/users";

const AUTH = "https://www.googleapis.com/auth/";
const CALENDAR = `${AUTH}calendar.events`;
const GMAIL_READ = `${AUTH}gmail.readonly`;
const GMAIL_SEND = `${AUTH}gmail.send`;
const DRIVE = `${AUTH}drive.file`;

function scopeParam(url: URL): string[] {
  return (url.searchParams.get("scope") ?? "").split(" ").filter(Boolean).sort();
}

describe("activating a Google integration", () => {
  it("makes it active at once when the connection already holds its scopes, with an integration_activated consent", async () => {
    const user = newUserId("int-existing");
    const connectionId = await connectGoogle(user, { scopes: [CALENDAR] });

    expect(await activateOk(user, "google-calendar")).toEqual({ status: "active" });

    const view = await integration(user, "google-calendar");
    expect(view).toMatchObject({ status: "active", missing_scopes: [], connection_id: connectionId });
    const [newest] = await allConsents(user);
    expect(newest).toMatchObject({
      kind: "integration_activated",
      integration: "google-calendar",
      connection_id: connectionId,
      provider: "google",
      scopes: [CALENDAR],
    });
    const actions = (await auditRowsOf(user)).map((row) => `${row.action}:${row.outcome}`);
    expect(actions).toContain("integration.activated:success");
  });

  it("asks for the granted plus the needed scopes, incrementally and without forcing consent, when the connection lacks them", async () => {
    const user = newUserId("int-incremental");
    const connectionId = await connectGoogle(user);

    const answer = await activateOk(user, "google-calendar");
    expect(answer.status).toBe("authorization_required");
    const { providerUrl } = await authorizeInBrowser(new Browser(), (answer as { authorization_url: string }).authorization_url, {
      mock_flow: newMockId("int"),
    });

    expect(scopeParam(providerUrl)).toEqual([CALENDAR, "email", "openid", "profile"].sort());
    expect(providerUrl.searchParams.get("include_granted_scopes")).toBe("true");
    // A refresh token is already held: forcing consent would mint another one.
    expect(providerUrl.searchParams.has("prompt")).toBe(false);
    expect(connectionId).toMatch(/^conn_/);
  });

  it("forces consent when no Google connection holds a refresh token yet", async () => {
    const user = newUserId("int-first");
    const answer = await activateOk(user, "google-calendar");
    expect(answer.status).toBe("authorization_required");
    const { providerUrl } = await authorizeInBrowser(new Browser(), (answer as { authorization_url: string }).authorization_url);
    expect(providerUrl.searchParams.get("prompt")).toBe("consent");
    expect(scopeParam(providerUrl)).toContain(CALENDAR);
  });

  it("shows authorization_required with the missing scopes until the incremental authorization completes", async () => {
    const user = newUserId("int-pending");
    const connectionId = await connectGoogle(user);
    await activateOk(user, "google-calendar");
    expect(await integration(user, "google-calendar")).toMatchObject({
      status: "authorization_required",
      missing_scopes: [CALENDAR],
      connection_id: connectionId,
    });
    const actions = (await auditRowsOf(user)).map((row) => row.action);
    expect(actions).toContain("integration.authorization_required");
  });

  it("becomes active once the incremental authorization grants the scopes, on the same connection, with expansion and integration_activated consents", async () => {
    const user = newUserId("int-e2e");
    const flow = newMockId("int");
    const connectionId = await connectGoogle(user, { flow });
    const answer = (await activateOk(user, "google-calendar")) as { authorization_url: string };

    const { callback } = await finishInBrowser(new Browser(), answer.authorization_url, { mock_flow: flow });
    expect(callback.status, await callback.clone().text()).toBe(200);
    const { connection } = (await callback.json()) as { connection: { id: string; scopes: string[] } };
    expect(connection.id).toBe(connectionId);
    expect(connection.scopes).toContain(CALENDAR);

    expect(await integration(user, "google-calendar")).toMatchObject({ status: "active", missing_scopes: [], connection_id: connectionId });
    const kinds = (await allConsents(user)).map((consent) => `${consent.kind}:${consent.integration ?? "-"}`);
    // The expansion and the activation are recorded in the same millisecond; their relative order is not defined.
    expect(kinds.slice(0, 2).sort()).toEqual(["expansion:-", "integration_activated:google-calendar"]);
    expect(kinds.slice(2)).toEqual(["grant:-"]);
  });

  it("keeps a partly granted integration authorization_required with its missing scopes and records a reduction", async () => {
    const user = newUserId("int-partial");
    const connectionId = await connectGoogle(user);
    const answer = (await activateOk(user, "gmail")) as { authorization_url: string };

    const { callback } = await finishInBrowser(new Browser(), answer.authorization_url, {
      mock_scope: `openid email profile ${GMAIL_READ}`,
    });
    const problem = await expectProblem(callback, 403, "scope-not-granted");
    expect(problem.missing_scopes).toEqual([GMAIL_SEND]);

    expect(await integration(user, "gmail")).toMatchObject({
      status: "authorization_required",
      missing_scopes: [GMAIL_SEND],
      connection_id: connectionId,
    });
    const consents = await allConsents(user);
    expect(consents[0]).toMatchObject({ kind: "reduction", connection_id: connectionId, missing_scopes: [GMAIL_SEND] });
    expect(consents[0]!.scopes).toContain(GMAIL_READ);
    expect(consents.some((consent) => consent.kind === "integration_activated")).toBe(false);
  });

  it("answers 404 for an integration that does not exist", async () => {
    const user = newUserId("int-unknown");
    await expectProblem(await activate(user, "no-such-integration"), 404, "not-found");
  });
});

describe("activating with several connections to one provider", () => {
  async function twoGoogleAccounts(label: string): Promise<{ user: string; first: string; second: string }> {
    const user = newUserId(label);
    const first = await connectGoogle(user, { account: `acct-a-${crypto.randomUUID()}`, scopes: [CALENDAR] });
    const second = await connectGoogle(user, { account: `acct-b-${crypto.randomUUID()}` });
    expect(first).not.toBe(second);
    return { user, first, second };
  }

  it("refuses without connection_id with 400 naming the candidates", async () => {
    const { user, first, second } = await twoGoogleAccounts("int-several-400");
    const problem = await expectProblem(await activate(user, "google-calendar"), 400, "bad-request");
    expect([...(problem.connection_ids as string[])].sort()).toEqual([first, second].sort());
    expect(await integration(user, "google-calendar")).toMatchObject({ status: "inactive" });
  });

  it("activates on the connection named by connection_id", async () => {
    const { user, first, second } = await twoGoogleAccounts("int-several-ok");
    expect(await activateOk(user, "google-calendar", { connection_id: first })).toEqual({ status: "active" });
    expect(await integration(user, "google-calendar")).toMatchObject({ status: "active", connection_id: first });
    // The other account lacks the scope: naming it asks for an authorization instead.
    expect((await activateOk(user, "google-calendar", { connection_id: second })).status).toBe("authorization_required");
    expect(await integration(user, "google-calendar")).toMatchObject({ status: "authorization_required", connection_id: second });
  });

  it("answers 404 for another user's connection id and activates nothing", async () => {
    const { user } = await twoGoogleAccounts("int-several-404");
    const stranger = newUserId("int-stranger");
    const strangersConnection = await connectGoogle(stranger, { scopes: [CALENDAR] });
    await expectProblem(await activate(user, "google-calendar", { connection_id: strangersConnection }), 404, "not-found");
    expect(await integration(user, "google-calendar")).toMatchObject({ status: "inactive" });
    expect(await integration(stranger, "google-calendar")).toMatchObject({ status: "inactive" });
  });
});

describe("deactivating an integration", () => {
  it("turns that one off and leaves another integration on the same connection active, with an integration_deactivated consent", async () => {
    const user = newUserId("int-deactivate");
    const connectionId = await connectGoogle(user, { scopes: [CALENDAR, DRIVE] });
    await activateOk(user, "google-calendar");
    await activateOk(user, "google-drive");

    const response = await deactivate(user, "google-calendar");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "inactive" });

    expect(await integration(user, "google-calendar")).toMatchObject({ status: "inactive" });
    expect(await integration(user, "google-drive")).toMatchObject({ status: "active", connection_id: connectionId });
    expect((await service.call(user, `/v1/connections/${connectionId}`)).status).toBe(200);
    const [newest] = await allConsents(user);
    expect(newest).toMatchObject({ kind: "integration_deactivated", integration: "google-calendar", provider: "google" });
    expect((await auditRowsOf(user)).map((row) => row.action)).toContain("integration.deactivated");
  });

  it("records nothing when the integration was not active", async () => {
    const user = newUserId("int-deactivate-idle");
    await connectGoogle(user);
    const before = (await allConsents(user)).length;
    const response = await deactivate(user, "gmail");
    expect(response.status).toBe(200);
    expect(await allConsents(user)).toHaveLength(before);
  });
});

describe("GET /v1/integrations", () => {
  it("lists active, authorization_required and inactive integrations with their missing scopes", async () => {
    const user = newUserId("int-list");
    const connectionId = await connectGoogle(user, { scopes: [CALENDAR] });
    await activateOk(user, "google-calendar");
    await activateOk(user, "gmail");

    const byKey = await integrations(user);

    expect(byKey.get("google-calendar")).toMatchObject({
      provider: "google",
      status: "active",
      missing_scopes: [],
      connection_id: connectionId,
      scopes: [CALENDAR],
    });
    expect(byKey.get("gmail")).toMatchObject({
      status: "authorization_required",
      missing_scopes: [GMAIL_READ, GMAIL_SEND],
      connection_id: connectionId,
    });
    expect(byKey.get("google-drive")).toMatchObject({ status: "inactive", missing_scopes: [DRIVE], connection_id: connectionId });
    expect(byKey.get("outlook-mail")).toMatchObject({ status: "inactive", connection_id: null });
  });

  it("shows needs_reauth for an active integration whose connection needs re-authorization", async () => {
    const user = newUserId("int-reauth");
    const connectionId = await connectGoogle(user, { scopes: [CALENDAR] });
    await activateOk(user, "google-calendar");
    await env.DB.prepare("UPDATE connections SET status = 'needs_reauth', status_reason = 'invalid_grant' WHERE id = ?")
      .bind(connectionId)
      .run();
    expect(await integration(user, "google-calendar")).toMatchObject({ status: "needs_reauth", connection_id: connectionId });
  });
});
