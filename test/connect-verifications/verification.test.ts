/**
 * Flow verification (`CONNECT_VERIFY_URL`): a successful callback keeps the new tokens aside, creates nothing and
 * sends the browser to the application's verify URL with a fresh `flow_id`; only `POST /v1/connect-verifications`
 * with the flow's own user's JWT writes the connection, consent and activation. Another user's JWT discards the flow
 * and revokes its tokens (unless another live connection shares the grant), so a forwarded connect link cannot
 * connect the victim's account to the sender.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import type { Connection } from "../support/api-client";
import { LOCAL_OIDC_ID } from "../support/bindings";
import { Browser } from "../support/browser";
import { connectAccount, finishInBrowser } from "../support/connect-flow";
import { activateOk } from "../support/integration-helpers";
import { newMockId } from "../support/mock-control";
import { expectProblem } from "../support/problems";
import { localOidc, mockProvider, service } from "../support/toolkit";
import { newUserId } from "../support/users";
import {
  activationConnections,
  auditRowsMentioning,
  countRows,
  flowIdOf,
  flowObject,
  heldFlow,
  providerParams,
  refreshTokensAlive,
  verify,
  verifying,
  verifyingApp,
  verifyOk,
} from "./verifying-app";

describe("a callback with CONNECT_VERIFY_URL set", () => {
  it("redirects to the verify URL with a fresh 128-bit flow_id, whatever return_to says", async () => {
    const userId = newUserId("verify-redirect");
    const first = await heldFlow(userId, { return_to: "https://app.example.com/settings" });
    const second = await heldFlow(userId, { return_to: "https://app.example.com/settings" });

    expect(first.flowId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(second.flowId).not.toBe(first.flowId);
    expect(first.callback.headers.get("Referrer-Policy")).toBe("no-referrer");
    expect(await first.callback.text()).not.toContain(first.flowId);
  });

  it("creates nothing: no connection, consent, activation or events, and no audit row naming the flow", async () => {
    const userId = newUserId("verify-nothing");
    const activation = await activateOk(userId, "google-calendar", {}, verifyingApp);
    expect(activation.status).toBe("authorization_required");
    const { flow, params } = providerParams({});
    const { callback } = await finishInBrowser(
      new Browser(verifyingApp),
      (activation as { authorization_url: string }).authorization_url,
      params,
    );
    const flowId = flowIdOf(callback);

    expect(await countRows("connections", userId)).toBe(0);
    expect(await service.json<{ connections: Connection[] }>(userId, "/v1/connections")).toEqual({ connections: [] });
    expect(await countRows("consents", userId)).toBe(0);
    // The activation stays as its beginning left it: waiting, on no connection.
    expect(await activationConnections(userId)).toEqual([null]);
    expect(await auditRowsMentioning(flowId)).toEqual([]);
    const audit = await service.auditEvents(userId);
    expect(audit.filter((event) => event.connection_id !== null || event.action === "integration.activated")).toEqual([]);
    expect(audit).toContainEqual(expect.objectContaining({ action: "authorization.callback", outcome: "success" }));
    // The provider issued tokens and nothing revoked them: they wait for the verification.
    expect(await refreshTokensAlive(flow)).toEqual([true]);
  });

  it("keeps failures as Callback outcomes: a refusal goes back to return_to with the provider's code", async () => {
    const response = await connectAccount(verifying, new Browser(verifyingApp), newUserId("verify-refused"), "google", {
      return_to: "https://app.example.com/connected",
      providerParams: { mock_error: "access_denied" },
    });

    expect(response.status).toBe(302);
    const location = new URL(response.headers.get("Location")!);
    expect(`${location.origin}${location.pathname}`).toBe("https://app.example.com/connected");
    expect(location.searchParams.get("error")).toBe("access_denied");
    expect(location.searchParams.has("flow_id")).toBe(false);
  });
});

describe("POST /v1/connect-verifications by the flow's user", () => {
  it("writes the connection, consent and integration activation, and answers the Connection with return_to", async () => {
    const userId = newUserId("verify-owner");
    const activation = await activateOk(userId, "google-calendar", { return_to: "https://app.example.com/calendar" }, verifyingApp);
    const { params } = providerParams({});
    const { callback } = await finishInBrowser(
      new Browser(verifyingApp),
      (activation as { authorization_url: string }).authorization_url,
      params,
    );
    const flowId = flowIdOf(callback);

    const verified = await verifyOk(userId, flowId);

    expect(verified.return_to).toBe("https://app.example.com/calendar");
    expect(verified.connection).toMatchObject({ provider: "google", status: "active", status_reason: null });
    expect(verified.connection.scopes).toContain("https://www.googleapis.com/auth/calendar.events");
    expect(await service.connection(userId, verified.connection.id)).toEqual(verified.connection);
    expect(await countRows("connections", userId)).toBe(1);
    expect(await activationConnections(userId)).toEqual([verified.connection.id]);
    const consents = await service.json<{ consents: { kind: string }[] }>(userId, "/v1/consents");
    expect(consents.consents.map((consent) => consent.kind).sort()).toEqual(["grant", "integration_activated"]);
    const vended = await service.vendOk(userId, verified.connection.id);
    expect(vended.access_token).toMatch(/\S/);
  });

  it("answers without return_to when the flow had none", async () => {
    const userId = newUserId("verify-no-return");
    const { flowId } = await heldFlow(userId);

    const verified = await verifyOk(userId, flowId);

    expect(verified).not.toHaveProperty("return_to");
    expect(verified.connection.provider).toBe("google");
  });

  it("gets the same answer when it repeats the call, and nothing is written twice", async () => {
    const userId = newUserId("verify-repeat");
    const { flowId } = await heldFlow(userId, { return_to: "https://app.example.com/settings" });

    const first = await verifyOk(userId, flowId);
    const again = await verifyOk(userId, flowId);

    expect(again).toEqual(first);
    expect(await countRows("connections", userId)).toBe(1);
    expect(await countRows("consents", userId)).toBe(1);
  });

  it("gets the same answer from two verifications at once, and one connection and consent are written", async () => {
    const userId = newUserId("verify-twice-at-once");
    const { flowId } = await heldFlow(userId);

    const [first, second] = await Promise.all([verifyOk(userId, flowId), verifyOk(userId, flowId)]);

    expect(second).toEqual(first);
    expect(await countRows("connections", userId)).toBe(1);
    expect(await countRows("consents", userId)).toBe(1);
  });

  it("of a partial grant writes the connection with what was granted and says which scopes are missing", async () => {
    const userId = newUserId("verify-partial");
    const calendar = "https://www.googleapis.com/auth/calendar.events";
    const { flowId } = await heldFlow(userId, {
      scopes: ["openid", "email", calendar],
      providerParams: { mock_scope: "openid email profile" },
    });
    expect(await countRows("connections", userId)).toBe(0);

    const verified = await verifyOk(userId, flowId);

    expect(verified.missing_scopes).toEqual([calendar]);
    expect(verified.connection.scopes).not.toContain(calendar);
    const consents = await service.json<{ consents: { kind: string }[] }>(userId, "/v1/consents");
    expect(consents.consents.map((consent) => consent.kind)).toEqual(["reduction"]);
  });

  it("is refused with 404 for a flow begun before the user's erasure, which writes nothing and revokes the tokens", async () => {
    const userId = newUserId("verify-erased");
    const { flowId, flow } = await heldFlow(userId);
    expect((await service.call(userId, "/v1/me", { method: "DELETE" })).status).toBe(204);

    await expectProblem(await verify(userId, flowId), 404, "not-found");

    expect(await countRows("connections", userId)).toBe(0);
    expect(await countRows("consents", userId)).toBe(0);
    expect((await mockProvider.flowState(flow)).revocations).toBe(1);
    expect(await refreshTokensAlive(flow)).toEqual([false]);
  });
});

describe("POST /v1/connect-verifications by another user", () => {
  it("answers 403, discards the flow (the flow's user then gets 404) and revokes its tokens at the provider", async () => {
    const sender = newUserId("verify-sender");
    const victim = newUserId("verify-victim");
    const { flowId, flow } = await heldFlow(sender);

    await expectProblem(await verify(victim, flowId), 403, "forbidden");

    expect((await mockProvider.flowState(flow)).revocations).toBe(1);
    expect(await refreshTokensAlive(flow)).toEqual([false]);
    await expectProblem(await verify(sender, flowId), 404, "not-found");
    await expectProblem(await verify(victim, flowId), 404, "not-found");
    expect(await countRows("connections", sender)).toBe(0);
    expect(await countRows("connections", victim)).toBe(0);
    expect(await countRows("consents", sender)).toBe(0);
  });

  it("revokes the grant at a standard OpenID provider (the local oidc-provider)", async () => {
    const sender = newUserId("verify-sender-oidc");
    const { flowId, flow: account } = await heldFlow(sender, { provider: LOCAL_OIDC_ID });

    await expectProblem(await verify(newUserId("verify-victim-oidc"), flowId), 403, "forbidden");

    const events = await localOidc.events(account);
    expect(events.counts.revocation).toBe(1);
    expect(events.counts.grant_revoked).toBeGreaterThanOrEqual(1);
    await expectProblem(await verify(sender, flowId), 404, "not-found");
  });

  it("does not revoke a Google grant that another live connection shares, which still refreshes", async () => {
    const sender = newUserId("verify-shared-sender");
    const victim = newUserId("verify-shared-victim");
    const account = { sub: `sub-${crypto.randomUUID()}`, grant: crypto.randomUUID() };
    // The victim already connected this Google account for themselves, through the service without verification.
    const ownFlow = newMockId("verify-shared-own");
    const own = await connectAccount(service, new Browser(), victim, "google", {
      providerParams: { mock_flow: ownFlow, mock_account: JSON.stringify({ sub: account.sub }), mock_grant: account.grant },
    });
    expect(own.status).toBe(200);
    const ownConnection = ((await own.json()) as { connection: Connection }).connection;
    const { flowId, flow } = await heldFlow(sender, { account });

    await expectProblem(await verify(victim, flowId), 403, "forbidden");

    expect((await mockProvider.flowState(flow)).revocations).toBe(0);
    expect(await refreshTokensAlive(ownFlow)).toEqual([true]);
    expect((await service.vend(victim, ownConnection.id, { force_refresh: true })).status).toBe(200);
    await expectProblem(await verify(sender, flowId), 404, "not-found");
  });

  it("after the flow's user verified it answers 403 and changes nothing: the first verification decides", async () => {
    const owner = newUserId("verify-first-owner");
    const { flowId, flow } = await heldFlow(owner);
    const verified = await verifyOk(owner, flowId);

    await expectProblem(await verify(newUserId("verify-late-other"), flowId), 403, "forbidden");

    expect((await mockProvider.flowState(flow)).revocations).toBe(0);
    expect(await service.connection(owner, verified.connection.id)).toMatchObject({ status: "active" });
    expect(await verifyOk(owner, flowId)).toEqual(verified);
  });

  it("racing the flow's user: whichever reaches the flow first decides, and the other sees that decision", async () => {
    const owner = newUserId("verify-race-owner");
    const other = newUserId("verify-race-other");
    const { flowId, flow } = await heldFlow(owner);

    const [byOwner, byOther] = await Promise.all([verify(owner, flowId), verify(other, flowId)]);

    expect(byOther.status).toBe(403);
    if (byOwner.status === 200) {
      expect(await countRows("connections", owner)).toBe(1);
      expect((await mockProvider.flowState(flow)).revocations).toBe(0);
    } else {
      await expectProblem(byOwner, 404, "not-found");
      expect(await countRows("connections", owner)).toBe(0);
      expect((await mockProvider.flowState(flow)).revocations).toBe(1);
    }
  });
});

describe("POST /v1/connect-verifications for no flow", () => {
  it("answers 404 for a flow_id the service never issued", async () => {
    const response = await verify(newUserId("verify-unknown"), "AAAAAAAAAAAAAAAAAAAAAA");
    await expectProblem(response, 404, "not-found");
  });

  it("answers 404 while CONNECT_VERIFY_URL is unset, even for a flow held before", async () => {
    const userId = newUserId("verify-unset");
    const { flowId } = await heldFlow(userId);

    await expectProblem(await verify(userId, flowId, service), 404, "not-found");

    expect(await countRows("connections", userId)).toBe(0);
    // The flow was there all along: the service configured with the variable verifies it.
    expect((await verifyOk(userId, flowId)).connection.provider).toBe("google");
  });

  it("refuses a body without a flow_id string with 400", async () => {
    const userId = newUserId("verify-bad-body");
    await expectProblem(await verify(userId, 42), 400, "bad-request");
    await expectProblem(await verifying.call(userId, "/v1/connect-verifications", { method: "POST", body: {} }), 400, "bad-request");
  });
});

describe("the flow_id", () => {
  /** Every line the Worker and its Durable Objects log meanwhile (they share the test's isolate). */
  function captureLogs(): string[] {
    const lines: string[] = [];
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        lines.push(args.map((arg) => (typeof arg === "string" ? arg : JSON.stringify(arg))).join(" "));
      });
    }
    return lines;
  }

  it("appears in no log line, audit row or response but the redirect, whether the flow is verified, refused or expires", async () => {
    const logs = captureLogs();
    const owner = newUserId("flow-id-owner");
    const other = newUserId("flow-id-other");
    const verified = await heldFlow(owner, { return_to: "https://app.example.com/settings" });
    const refused = await heldFlow(owner);
    const expired = await heldFlow(owner);
    const flowIds = [verified.flowId, refused.flowId, expired.flowId];

    const responses = [
      await verify(owner, verified.flowId),
      await verify(owner, verified.flowId),
      await verify(other, verified.flowId),
      await verify(other, refused.flowId),
      await verify(owner, refused.flowId),
    ];
    expect(await runDurableObjectAlarm(await flowObject(expired.flowId))).toBe(true);
    responses.push(await verify(owner, expired.flowId));
    expect(responses.map((response) => response.status)).toEqual([200, 200, 403, 403, 404, 404]);

    const answered = await Promise.all(responses.map(async (response) => JSON.stringify([...response.headers]) + (await response.text())));
    const history = [
      JSON.stringify(await service.auditEvents(owner)),
      JSON.stringify(await service.auditEvents(other)),
      JSON.stringify(await service.json(owner, "/v1/consents")),
      JSON.stringify(await service.json(owner, "/v1/connections")),
    ];
    for (const flowId of flowIds) {
      expect(logs.filter((line) => line.includes(flowId))).toEqual([]);
      expect(answered.filter((text) => text.includes(flowId))).toEqual([]);
      expect(history.filter((text) => text.includes(flowId))).toEqual([]);
      expect(await auditRowsMentioning(flowId)).toEqual([]);
    }
  });
});
