import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { randomId } from "../../src/crypto/random";
import { insertAuditEvents } from "../../src/storage/audit-events";
import { type ConsentKind, recordConsent } from "../../src/storage/consents";
import { database } from "../../src/storage/database";
import type { AuditEvent } from "../support/api-client";
import { Browser } from "../support/browser";
import { authHeaders } from "../support/caller-token";
import { connectAccount } from "../support/connect-flow";
import {
  activateOk,
  allConsents,
  auditRowsOf,
  type AuditRowView,
  connectGoogle,
  consentPage,
  deactivate,
} from "../support/integration-helpers";
import { newMockId } from "../support/mock-control";
import { expectProblem } from "../support/problems";
import { waitForAudit } from "../support/refresh-fixtures";
import { mockProvider, service } from "../support/toolkit";
import { newUserId } from "../support/users";
import { callWorker } from "../support/worker";

const CALENDAR = "https://www.googleapis.com/auth/calendar.events";
const GMAIL_READ = "https://www.googleapis.com/auth/gmail.readonly";
const GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send";
/** A fixed past instant for seeded rows, far from anything the tests record now. */
const T0 = Date.parse("2021-03-04T05:06:07.000Z");

async function seedConsents(userId: string, createdAts: number[]): Promise<void> {
  const db = database(env.DB);
  for (const createdAt of createdAts) {
    await recordConsent(db, {
      userId,
      connectionId: null,
      provider: "google",
      kind: "grant" satisfies ConsentKind,
      scopes: "openid",
      missingScopes: "",
      integration: null,
      ip: null,
      userAgent: null,
      createdAt,
    });
  }
}

async function seedAudit(userId: string, ats: number[], action = "seeded.event"): Promise<void> {
  await insertAuditEvents(
    database(env.DB),
    ats.map((at) => ({
      id: randomId("evt_"),
      at,
      userId,
      actor: "user",
      action,
      provider: null,
      connectionId: null,
      outcome: "success" as const,
      requestId: null,
      ip: null,
      detail: {},
    })),
  );
}

function auditPage(
  callerId: string,
  query: Record<string, string> = {},
  scope?: string,
): Promise<{ events: AuditEvent[]; next_cursor: string | null }> {
  return service.json(callerId, `/v1/audit?${new URLSearchParams(query)}`, scope === undefined ? {} : { scope });
}

async function deleteConnection(userId: string, connectionId: string): Promise<void> {
  const response = await service.call(userId, `/v1/connections/${connectionId}`, { method: "DELETE" });
  expect(response.status).toBe(204);
}

describe("consent history rows", () => {
  it("records a grant when an account is first connected", async () => {
    const user = newUserId("cns-grant");
    const connectionId = await connectGoogle(user);
    expect(await allConsents(user)).toEqual([
      expect.objectContaining({ kind: "grant", connection_id: connectionId, provider: "google", missing_scopes: [] }),
    ]);
  });

  it("records an expansion when reconnecting the same account grants more scopes", async () => {
    const user = newUserId("cns-expansion");
    const connectionId = await connectGoogle(user);
    expect(await connectGoogle(user, { scopes: [CALENDAR] })).toBe(connectionId);
    const [newest] = await allConsents(user);
    expect(newest).toMatchObject({ kind: "expansion", connection_id: connectionId });
    expect(newest!.scopes).toContain(CALENDAR);
  });

  it("records a reduction with the missing scopes when the user grants fewer than asked", async () => {
    const user = newUserId("cns-reduction");
    const response = await connectAccount(service, new Browser(), user, "google", {
      scopes: [GMAIL_READ, GMAIL_SEND],
      providerParams: { mock_scope: `openid email profile ${GMAIL_READ}` },
    });
    expect(response.status).toBe(403);
    const [newest] = await allConsents(user);
    expect(newest).toMatchObject({ kind: "reduction", missing_scopes: [GMAIL_SEND] });
    expect(newest!.scopes).toContain(GMAIL_READ);
  });

  it("records a withdrawal with the scopes held, and the deactivation of its integrations, when a connection is removed", async () => {
    const user = newUserId("cns-withdrawal");
    const connectionId = await connectGoogle(user, { scopes: [CALENDAR] });
    await activateOk(user, "google-calendar");
    await deleteConnection(user, connectionId);
    const consents = await allConsents(user);
    const kinds = consents.map((consent) => consent.kind);
    expect(kinds.slice(0, 2).sort()).toEqual(["integration_deactivated", "withdrawal"]);
    expect(consents.find((consent) => consent.kind === "withdrawal")).toMatchObject({ connection_id: connectionId });
    expect(consents.find((consent) => consent.kind === "withdrawal")!.scopes).toContain(CALENDAR);
    expect(consents.find((consent) => consent.kind === "integration_deactivated")).toMatchObject({
      integration: "google-calendar",
      connection_id: connectionId,
    });
  });

  it("lists the caller's consents of every kind, newest first, and none of another user's", async () => {
    const user = newUserId("cns-kinds");
    const other = newUserId("cns-other");
    await connectGoogle(other);
    await connectAccount(service, new Browser(), user, "google", {
      scopes: [GMAIL_READ, GMAIL_SEND],
      providerParams: { mock_scope: `openid email profile ${GMAIL_READ}` },
    });
    const connectionId = await connectGoogle(user, { scopes: [CALENDAR] });
    await activateOk(user, "google-calendar");
    const deactivated = await deactivate(user, "google-calendar");
    expect(deactivated.status).toBe(200);
    await deleteConnection(user, connectionId);

    const consents = await allConsents(user);
    expect(new Set(consents.map((consent) => consent.kind))).toEqual(
      new Set(["reduction", "expansion", "integration_activated", "integration_deactivated", "withdrawal"]),
    );
    const times = consents.map((consent) => Date.parse(consent.created_at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(consents.at(-1)!.kind).toBe("reduction");
    expect(consents[0]!.kind).toBe("withdrawal");
    expect(consents.every((consent) => consent.provider === "google")).toBe(true);
    expect((await allConsents(other)).map((consent) => consent.kind)).toEqual(["grant"]);
  });
});

describe("GET /v1/consents pagination", () => {
  it("pages newest first with limit and next_cursor, null at the end, without gaps or repeats", async () => {
    const user = newUserId("cns-pages");
    // Two rows share a millisecond: the cursor must still split them exactly once.
    await seedConsents(user, [T0, T0 + 1000, T0 + 1000, T0 + 2000, T0 + 3000]);
    const first = await consentPage(user, { limit: "2" });
    expect(first.items).toHaveLength(2);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = await consentPage(user, { limit: "2", cursor: first.next_cursor! });
    expect(second.items).toHaveLength(2);
    expect(second.next_cursor).toEqual(expect.any(String));
    const third = await consentPage(user, { limit: "2", cursor: second.next_cursor! });
    expect(third.items).toHaveLength(1);
    expect(third.next_cursor).toBeNull();

    const paged = [...first.items, ...second.items, ...third.items];
    expect(paged.map((consent) => Date.parse(consent.created_at))).toEqual([T0 + 3000, T0 + 2000, T0 + 1000, T0 + 1000, T0]);
    expect(new Set(paged.map((consent) => consent.id)).size).toBe(5);
    expect(paged.map((consent) => consent.id)).toEqual((await allConsents(user)).map((consent) => consent.id));
  });

  it("answers next_cursor null when the page holds everything", async () => {
    const user = newUserId("cns-one-page");
    await seedConsents(user, [T0, T0 + 1]);
    expect((await consentPage(user, { limit: "2" })).next_cursor).toBeNull();
  });

  it("refuses a cursor it did not issue with 400", async () => {
    const user = newUserId("cns-forged");
    const forged = btoa(JSON.stringify({ at: 1, id: "x" })).replace(/=+$/, "");
    const response = await service.call(user, `/v1/consents?cursor=${forged}`);
    await expectProblem(response, 400, "bad-request");
    await expectProblem(await service.call(user, "/v1/consents?cursor=%%%"), 400, "bad-request");
  });

  it("refuses a limit outside 1 to 200 with 400", async () => {
    const user = newUserId("cns-limit");
    expect((await service.call(user, "/v1/consents?limit=0")).status).toBe(400);
    expect((await service.call(user, "/v1/consents?limit=201")).status).toBe(400);
  });
});

describe("audit rows", () => {
  it("record the start and the callback of an authorization", async () => {
    const user = newUserId("aud-flow");
    const connectionId = await connectGoogle(user);
    const rows = await auditRowsOf(user);
    expect(rows.find((row) => row.action === "authorization.started")).toMatchObject({ outcome: "success", provider: "google" });
    expect(rows.find((row) => row.action === "authorization.callback")).toMatchObject({
      outcome: "success",
      provider: "google",
      connection_id: connectionId,
    });
  });

  it("record a token vend and a forced refresh", async () => {
    const user = newUserId("aud-vend");
    const connectionId = await connectGoogle(user);
    await service.vendOk(user, connectionId);
    await service.vendOk(user, connectionId, { force_refresh: true });
    const vended = await waitForAudit(user, "token.vended", 2);
    expect(vended.map((row) => row.outcome)).toEqual(["success", "success"]);
    expect(await waitForAudit(user, "token.refreshed")).toEqual([expect.objectContaining({ outcome: "success" })]);
  });

  it("record the revocation and the removal of a connection", async () => {
    const user = newUserId("aud-remove");
    const connectionId = await connectGoogle(user);
    await deleteConnection(user, connectionId);
    const rows = await auditRowsOf(user);
    expect(rows.find((row) => row.action === "token.revoked")).toMatchObject({ outcome: "success", connection_id: connectionId });
    expect(rows.find((row) => row.action === "connection.removed")).toMatchObject({ outcome: "success", connection_id: connectionId });
  });

  it("record integration activation, authorization_required and deactivation", async () => {
    const user = newUserId("aud-integration");
    await connectGoogle(user, { scopes: [CALENDAR] });
    await activateOk(user, "google-calendar");
    await activateOk(user, "gmail");
    await deactivate(user, "google-calendar");
    const actions = (await auditRowsOf(user)).map((row) => row.action);
    expect(actions).toEqual(
      expect.arrayContaining(["integration.activated", "integration.authorization_required", "integration.deactivated"]),
    );
  });

  it("record a failed caller authentication, without a user", async () => {
    const ip = `198.51.100.${Math.floor(Math.random() * 250) + 1}`;
    const marker = newUserId("aud-auth");
    const forged = await authHeaders(marker, { secret: "another-secret-of-at-least-32-bytes-0123456789" });
    const response = await callWorker("/v1/connections", { headers: { ...forged, "CF-Connecting-IP": ip } });
    expect(response.status).toBe(401);
    const requestId = ((await response.json()) as { request_id: string }).request_id;
    expect(requestId).toEqual(expect.any(String));
    const row = await env.DB.prepare("SELECT user_id, action, outcome, ip, detail FROM audit_events WHERE request_id = ?")
      .bind(requestId)
      .first<AuditRowView>();
    expect(row).toMatchObject({ user_id: null, action: "auth.failed", outcome: "failure", ip });
    expect(row!.detail).not.toContain(marker);
  });

  it("record a read of another user's connection as connection.read not_found against the reader", async () => {
    const owner = newUserId("aud-owner");
    const reader = newUserId("aud-reader");
    const connectionId = await connectGoogle(owner);
    const response = await service.call(reader, `/v1/connections/${connectionId}`);
    await expectProblem(response, 404, "not-found");
    const rows = await auditRowsOf(reader);
    expect(rows).toEqual([
      expect.objectContaining({
        action: "connection.read",
        outcome: "failure",
        connection_id: connectionId,
        detail: JSON.stringify({ reason: "not_found" }),
      }),
    ]);
    expect((await auditRowsOf(owner)).some((row) => row.action === "connection.read")).toBe(false);
  });

  it("never hold a token the provider issued", async () => {
    const user = newUserId("aud-secrets");
    const flow = newMockId("aud");
    const connectionId = await connectGoogle(user, { flow });
    await service.vendOk(user, connectionId, { force_refresh: true });
    await activateOk(user, "gmail");
    await waitForAudit(user, "token.vended");
    await deleteConnection(user, connectionId);

    const { refresh_tokens, access_tokens } = await mockProvider.flowState(flow);
    const tokens = [...refresh_tokens, ...access_tokens].map((issued) => issued.token);
    expect(tokens.length).toBeGreaterThanOrEqual(3);
    const rows = await env.DB.prepare("SELECT * FROM audit_events").all<Record<string, unknown>>();
    expect(rows.results.some((row) => row.user_id === user)).toBe(true);
    for (const row of rows.results) {
      const text = JSON.stringify(row);
      for (const token of tokens) expect(text).not.toContain(token);
    }
  });
});

describe("GET /v1/audit", () => {
  it("shows a caller only their own events", async () => {
    const user = newUserId("aud-own");
    const other = newUserId("aud-own-other");
    await seedAudit(user, [T0]);
    await seedAudit(other, [T0 + 1]);
    const { events } = await auditPage(user);
    expect(events.map((event) => event.user_id)).toEqual([user]);
  });

  it("refuses user_id without the admin scope with 403", async () => {
    const user = newUserId("aud-not-admin");
    const response = await service.call(user, `/v1/audit?user_id=${encodeURIComponent(newUserId("aud-target"))}`);
    const problem = await expectProblem(response, 403, "forbidden");
    expect(problem.required_scope).toBe("admin");
  });

  it("shows an admin that user's events with user_id", async () => {
    const admin = newUserId("aud-admin");
    const target = newUserId("aud-target");
    await seedAudit(target, [T0, T0 + 1]);
    await seedAudit(newUserId("aud-bystander"), [T0 + 2]);
    const { events } = await auditPage(admin, { user_id: target }, "admin");
    expect(events).toHaveLength(2);
    expect(events.every((event) => event.user_id === target)).toBe(true);
  });

  it("shows an admin every user's events without user_id", async () => {
    const admin = newUserId("aud-admin-all");
    const first = newUserId("aud-all-a");
    const second = newUserId("aud-all-b");
    const action = `seeded.all_${crypto
      .randomUUID()
      .replace(/[^a-z]/g, "")
      .slice(0, 12)}`;
    await seedAudit(first, [T0], action);
    await seedAudit(second, [T0 + 1], action);
    const { events } = await auditPage(admin, { action }, "admin");
    expect(events.map((event) => event.user_id)).toEqual([second, first]);
  });

  it("filters by action", async () => {
    const user = newUserId("aud-action");
    await connectGoogle(user);
    const { events } = await auditPage(user, { action: "authorization.started" });
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((event) => event.action === "authorization.started")).toBe(true);
    expect((await auditRowsOf(user)).some((row) => row.action !== "authorization.started")).toBe(true);
  });

  it("filters by since (inclusive) and until (exclusive)", async () => {
    const user = newUserId("aud-window");
    await seedAudit(user, [T0, T0 + 1000, T0 + 2000, T0 + 3000]);
    const iso = (ms: number) => new Date(ms).toISOString();
    const since = await auditPage(user, { since: iso(T0 + 2000) });
    expect(since.events.map((event) => Date.parse(event.at))).toEqual([T0 + 3000, T0 + 2000]);
    const until = await auditPage(user, { until: iso(T0 + 2000) });
    expect(until.events.map((event) => Date.parse(event.at))).toEqual([T0 + 1000, T0]);
    const both = await auditPage(user, { since: iso(T0 + 1000), until: iso(T0 + 3000) });
    expect(both.events.map((event) => Date.parse(event.at))).toEqual([T0 + 2000, T0 + 1000]);
  });

  it("refuses a since that is not an ISO 8601 time with 400", async () => {
    const user = newUserId("aud-bad-since");
    expect((await service.call(user, "/v1/audit?since=yesterday")).status).toBe(400);
  });

  it("pages newest first by cursor, next_cursor null at the end", async () => {
    const user = newUserId("aud-pages");
    await seedAudit(user, [T0, T0 + 1, T0 + 1, T0 + 2, T0 + 3]);
    const seen: AuditEvent[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await auditPage(user, { limit: "2", ...(cursor === null ? {} : { cursor }) });
      seen.push(...page.events);
      cursor = page.next_cursor;
      pages += 1;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(3);
    expect(seen.map((event) => Date.parse(event.at))).toEqual([T0 + 3, T0 + 2, T0 + 1, T0 + 1, T0]);
    expect(new Set(seen.map((event) => event.id)).size).toBe(5);
  });

  it("refuses a forged cursor with 400", async () => {
    const user = newUserId("aud-forged");
    const response = await service.call(user, "/v1/audit?cursor=bm90LWEtY3Vyc29y");
    await expectProblem(response, 400, "bad-request");
  });
});
