/**
 * The object holding a flow until its verification: the alarm that discards and revokes an unverified flow after 10
 * minutes (run here with `runDurableObjectAlarm` rather than waited for), and the order of decisions when a
 * verification meets another verification or the expiry while it is storing the connection.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import type { AuthorizationCompletion } from "../../src/vault/authorization-completion";
import type { HeldFlow } from "../../src/vault/held-flow";
import { UnverifiedFlow } from "../../src/vault/unverified-flow";
import { UserVault } from "../../src/vault/user-vault";
import { appWithEnv } from "../support/app-with-env";
import { Browser } from "../support/browser";
import { connectAccount } from "../support/connect-flow";
import { newMockId } from "../support/mock-control";
import { expectProblem } from "../support/problems";
import { envWithKeys, K2, K3 } from "../support/seed-connections";
import { mockProvider, service } from "../support/toolkit";
import { newUserId } from "../support/users";
import { countRows, flowObject, heldFlow, refreshTokensAlive, verify, VERIFY_URL, verifyOk } from "./verifying-app";

const TEN_MINUTES_MS = 10 * 60 * 1000;

async function storedKeys(flowId: string): Promise<string[]> {
  return runInDurableObject(await flowObject(flowId), async (_instance: UnverifiedFlow, state) => [...(await state.storage.list()).keys()]);
}

async function alarmAt(flowId: string): Promise<number | null> {
  return runInDurableObject(await flowObject(flowId), (_instance: UnverifiedFlow, state) => state.storage.getAlarm());
}

/**
 * Holds the owner's verification inside the user's vault, just before it stores the connection, until `release`
 * resolves; resolves `started` when it gets there.
 */
function pauseCompletionOf(userId: string, release: Promise<void>): { started: Promise<void> } {
  const started = Promise.withResolvers<void>();
  const original = UserVault.prototype.completeAuthorization;
  const spy = vi.spyOn(UserVault.prototype, "completeAuthorization").mockImplementation(async function (this: UserVault, request, trace) {
    if (request.userId === userId) {
      started.resolve();
      await release;
    }
    return original.call(this, request as AuthorizationCompletion, trace);
  });
  onTestFinished(() => spy.mockRestore());
  return { started: started.promise };
}

/** Resolves once `userId`'s verification has reached the flow's object (the call is under way, not decided). */
function verificationArrives(userId: string): Promise<void> {
  const arrived = Promise.withResolvers<void>();
  const original = UnverifiedFlow.prototype.verify;
  const spy = vi.spyOn(UnverifiedFlow.prototype, "verify").mockImplementation(function (this: UnverifiedFlow, caller, trace) {
    const result = original.call(this, caller, trace);
    if (caller === userId) arrived.resolve();
    return result;
  });
  onTestFinished(() => spy.mockRestore());
  return arrived.promise;
}

/** Resolves once the flow object's alarm has started (it is under way, not finished). */
function alarmArrives(): Promise<void> {
  const arrived = Promise.withResolvers<void>();
  const original = UnverifiedFlow.prototype.alarm;
  const spy = vi.spyOn(UnverifiedFlow.prototype, "alarm").mockImplementation(function (this: UnverifiedFlow) {
    const result = original.call(this);
    arrived.resolve();
    return result;
  });
  onTestFinished(() => spy.mockRestore());
  return arrived.promise;
}

describe("an unverified flow", () => {
  it("holds only ciphertext, bound to the flow, and its alarm is due 10 minutes after the callback", async () => {
    const before = Date.now();
    const { flowId, flow } = await heldFlow(newUserId("flow-held"));
    const after = Date.now();

    expect(await storedKeys(flowId)).toEqual(["held"]);
    const held = await runInDurableObject(await flowObject(flowId), (_instance: UnverifiedFlow, state) =>
      state.storage.get<HeldFlow>("held"),
    );
    const issued = await mockProvider.flowState(flow);
    const stored = JSON.stringify(held);
    for (const token of [...issued.refresh_tokens, ...issued.access_tokens]) expect(stored).not.toContain(token.token);
    expect(stored).not.toContain(flowId);
    expect(held!.authorization.tokens.accessTokenCiphertext).toMatch(/^v1\./);
    const alarm = await alarmAt(flowId);
    expect(alarm).toBeGreaterThanOrEqual(before + TEN_MINUTES_MS);
    expect(alarm).toBeLessThanOrEqual(after + TEN_MINUTES_MS);
  });

  it("is discarded and its tokens revoked when its 10 minutes are up: the user's verification then answers 404", async () => {
    const userId = newUserId("flow-expires");
    const { flowId, flow } = await heldFlow(userId);

    expect(await runDurableObjectAlarm(await flowObject(flowId))).toBe(true);

    expect((await mockProvider.flowState(flow)).revocations).toBe(1);
    expect(await refreshTokensAlive(flow)).toEqual([false]);
    expect(await storedKeys(flowId)).toEqual([]);
    expect(await alarmAt(flowId)).toBeNull();
    await expectProblem(await verify(userId, flowId), 404, "not-found");
    expect(await countRows("connections", userId)).toBe(0);
    expect(await service.auditEvents(userId, "authorization.verification")).toContainEqual(
      expect.objectContaining({ outcome: "failure", actor: "cron", detail: { reason: "expired", discarded: true } }),
    );
  });

  it("expiring does not revoke a Google grant another live connection shares", async () => {
    const userId = newUserId("flow-expires-shared");
    const account = { sub: `sub-${crypto.randomUUID()}`, grant: crypto.randomUUID() };
    const ownFlow = newMockId("flow-expires-own");
    const own = await connectAccount(service, new Browser(), newUserId("flow-expires-holder"), "google", {
      providerParams: { mock_flow: ownFlow, mock_account: JSON.stringify({ sub: account.sub }), mock_grant: account.grant },
    });
    expect(own.status).toBe(200);
    const { flowId, flow } = await heldFlow(userId, { account });

    expect(await runDurableObjectAlarm(await flowObject(flowId))).toBe(true);

    expect((await mockProvider.flowState(flow)).revocations).toBe(0);
    expect(await refreshTokensAlive(ownFlow)).toEqual([true]);
    expect(await storedKeys(flowId)).toEqual([]);
  });

  it("found past its expiry by a verification before the alarm ran is discarded and revoked, and answers 404", async () => {
    const userId = newUserId("flow-late-alarm");
    const { flowId, flow } = await heldFlow(userId);
    await runInDurableObject(await flowObject(flowId), async (_instance: UnverifiedFlow, state) => {
      const held = (await state.storage.get<HeldFlow>("held"))!;
      await state.storage.put("held", { ...held, expiresAt: Date.now() - 1 });
    });

    await expectProblem(await verify(userId, flowId), 404, "not-found");

    expect((await mockProvider.flowState(flow)).revocations).toBe(1);
    expect(await countRows("connections", userId)).toBe(0);
    expect(await storedKeys(flowId)).toEqual([]);
  });
});

describe("a held flow whose key left the ring before its verification", () => {
  it("is discarded: the user's verification answers 404 and the revocation that could not decrypt is audited", async () => {
    const userId = newUserId("flow-key-gone");
    // The callback ran with a key the user's vault and the flow's object no longer have (removed within 10 minutes).
    const app = appWithEnv({ ...envWithKeys(`${K3},${K2}`), CONNECT_VERIFY_URL: VERIFY_URL } as Env);
    const { flowId, flow } = await heldFlow(userId, { app });
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});

    await expectProblem(await verify(userId, flowId), 404, "not-found");

    expect(logged).toHaveBeenCalledWith(expect.stringContaining("held flow tokens do not decrypt"));
    expect(await countRows("connections", userId)).toBe(0);
    expect(await storedKeys(flowId)).toEqual([]);
    expect((await mockProvider.flowState(flow)).revocations).toBe(0);
    expect(await service.auditEvents(userId, "token.revoked")).toContainEqual(
      expect.objectContaining({ outcome: "failure", detail: { credential: "refresh", reason: "undecryptable" } }),
    );
  });
});

describe("a verified flow", () => {
  it("keeps the answer for the user's repeats, and its alarm revokes nothing and then forgets it", async () => {
    const userId = newUserId("flow-verified-alarm");
    const { flowId, flow } = await heldFlow(userId);
    const verified = await verifyOk(userId, flowId);
    expect(await storedKeys(flowId)).toEqual(["verified"]);

    expect(await runDurableObjectAlarm(await flowObject(flowId))).toBe(true);

    expect((await mockProvider.flowState(flow)).revocations).toBe(0);
    expect(await storedKeys(flowId)).toEqual([]);
    expect(await service.connection(userId, verified.connection.id)).toMatchObject({ status: "active" });
  });
});

describe("a verification under way in the user's vault", () => {
  it("makes another user's verification wait for it: that one gets 403, and nothing is revoked", async () => {
    const owner = newUserId("flow-race-owner");
    const other = newUserId("flow-race-other");
    const { flowId, flow } = await heldFlow(owner);
    const otherArrived = verificationArrives(other);
    const { started } = pauseCompletionOf(owner, otherArrived);

    const byOwner = verify(owner, flowId);
    await started;
    const byOther = verify(other, flowId);

    expect((await byOwner).status).toBe(200);
    await expectProblem(await byOther, 403, "forbidden");
    expect((await mockProvider.flowState(flow)).revocations).toBe(0);
    expect(await refreshTokensAlive(flow)).toEqual([true]);
    expect(await countRows("connections", owner)).toBe(1);
  });

  it("makes the expiry alarm wait for it: the connection is stored and the alarm revokes nothing", async () => {
    const owner = newUserId("flow-race-alarm");
    const { flowId, flow } = await heldFlow(owner);
    const { started } = pauseCompletionOf(owner, alarmArrives());

    const byOwner = verify(owner, flowId);
    await started;
    const alarm = runDurableObjectAlarm(await flowObject(flowId));

    expect((await byOwner).status).toBe(200);
    expect(await alarm).toBe(true);
    expect((await mockProvider.flowState(flow)).revocations).toBe(0);
    expect(await countRows("connections", owner)).toBe(1);
  });
});
