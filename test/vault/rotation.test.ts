/**
 * Refresh-token rotation (Notion and the local oidc-provider: each refresh returns a new refresh token and kills
 * the old one) and the write-ahead copy that keeps a rotated token when the D1 write after it fails.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import type { UserVault } from "../../src/vault/user-vault";
import { updateConnection } from "../../src/storage/connections";
import { captureLogs, type CapturedLogs } from "../support/logs";
import {
  type Connected,
  connectLocalOidc,
  connectMock,
  expireStoredToken,
  failNextConnectionWrite,
  pendingWrites,
  storedPlaintext,
  storedRow,
  vendOk,
} from "../support/refresh-fixtures";
import { localOidc, mockProvider } from "../support/toolkit";

describe("refreshing at a provider that rotates refresh tokens", () => {
  it("Notion: each refresh sends the refresh token the previous one returned, never a dead one", async () => {
    const notion = await connectMock("notion", "rotate-notion");
    // Each round reports the current token rejected: a refresh every time, whatever the clock says.
    let current = await storedPlaintext(notion, "access_token");
    for (let round = 0; round < 3; round += 1) current = (await vendOk(notion, { rejected_token: current })).access_token;

    const issued = (await mockProvider.flowState(notion.flow)).refresh_tokens;
    expect(issued).toHaveLength(4);
    expect(await mockProvider.refreshGrants(notion.flow)).toEqual(issued.slice(0, 3).map((entry) => entry.token));
    expect(issued.map((entry) => entry.alive)).toEqual([false, false, false, true]);
    expect(await storedPlaintext(notion, "refresh_token")).toBe(issued[3]!.token);
    expect((await storedRow(notion.connectionId)).status).toBe("active");
  });

  it("local oidc-provider: repeated refreshes never reuse a rotated token (no token_error, grant intact)", async () => {
    const oidc = await connectLocalOidc("rotate-oidc");
    const refreshTokens = [await storedPlaintext(oidc, "refresh_token")];
    for (let round = 0; round < 3; round += 1) {
      await expireStoredToken(oidc.connectionId);
      await vendOk(oidc);
      refreshTokens.push(await storedPlaintext(oidc, "refresh_token"));
    }

    expect(new Set(refreshTokens).size).toBe(4);
    expect((await localOidc.events(oidc.flow)).counts).toMatchObject({ refresh_token: 3, token_error: 0, grant_revoked: 0 });
    const row = await storedRow(oidc.connectionId);
    expect(row).toMatchObject({ status: "active", refresh_failures: 0, last_refresh_failure: null });
  });
});

describe("a D1 write failure right after a rotation", () => {
  /** Refreshes once at the local oidc-provider with the D1 write failing; returns what the caller was given. */
  async function refreshWithFailedWrite(
    label: string,
  ): Promise<{ oidc: Connected; vended: string; before: Awaited<ReturnType<typeof storedRow>>; errors: CapturedLogs }> {
    const oidc = await connectLocalOidc(label);
    await expireStoredToken(oidc.connectionId);
    const before = await storedRow(oidc.connectionId);
    const errors = await failNextConnectionWrite(oidc.userId);
    const vended = (await vendOk(oidc)).access_token;
    return { oidc, vended, before, errors };
  }

  it("logs the failed write by connection and error name, never a token", async () => {
    const { oidc, errors } = await refreshWithFailedWrite("wal-log");
    expect(errors.lines()).toEqual([
      { message: "D1 write failed; refreshed tokens kept in the write-ahead copy", connectionId: oidc.connectionId, error: "Error" },
    ]);
  });

  it("still gives the caller the new token, and D1 keeps the old row, marked as having a copy under the current key", async () => {
    const { oidc, vended, before } = await refreshWithFailedWrite("wal-answer");
    expect(vended).not.toBe(await storedPlaintext(oidc, "access_token"));
    // The mark is what GET /v1/admin/keys counts and the re-encryption pass visits: the copy itself is out of D1's sight.
    expect(await storedRow(oidc.connectionId)).toEqual({ ...before, pending_write_key_id: "k2" });
    expect((await localOidc.events(oidc.flow)).counts.refresh_token).toBe(1);
  });

  it("keeps the rotated tokens in the Durable Object's storage as ciphertext only", async () => {
    const { oidc, vended } = await refreshWithFailedWrite("wal-ciphertext");
    const pending = await pendingWrites(oidc.userId);
    expect([...pending.keys()]).toEqual([`pending-write:${oidc.connectionId}`]);
    const copy = pending.get(`pending-write:${oidc.connectionId}`) as {
      update: { accessTokenCiphertext: string; refreshTokenCiphertext: string };
    };
    expect(copy.update.accessTokenCiphertext).toMatch(/^v1\.k2\./);
    expect(copy.update.refreshTokenCiphertext).toMatch(/^v1\.k2\./);

    // Once reconciled, D1 holds the rotated refresh token: the copy must not have held it, or the access token, in clear.
    await vendOk(oidc);
    const rotatedRefreshToken = await storedPlaintext(oidc, "refresh_token");
    const serialized = JSON.stringify(copy);
    expect(serialized).not.toContain(rotatedRefreshToken);
    expect(serialized).not.toContain(vended);
  });

  it("is reconciled into D1 by the next vend, without another upstream refresh", async () => {
    const { oidc, vended, before } = await refreshWithFailedWrite("wal-reconcile");
    const next = await vendOk(oidc);

    expect(next.access_token).toBe(vended);
    expect(await storedPlaintext(oidc, "access_token")).toBe(vended);
    const row = await storedRow(oidc.connectionId);
    expect(row.version).toBe(before.version + 1);
    expect(row.refresh_token_ciphertext).not.toBe(before.refresh_token_ciphertext);
    expect((await pendingWrites(oidc.userId)).size).toBe(0);
    expect((await localOidc.events(oidc.flow)).counts.refresh_token).toBe(1);
  });

  it("loses nothing: the following refresh uses the rotated refresh token and succeeds", async () => {
    const { oidc } = await refreshWithFailedWrite("wal-next-refresh");
    await vendOk(oidc);
    await expireStoredToken(oidc.connectionId);
    await vendOk(oidc);

    expect((await localOidc.events(oidc.flow)).counts).toMatchObject({ refresh_token: 2, token_error: 0, grant_revoked: 0 });
    expect((await storedRow(oidc.connectionId)).status).toBe("active");
  });

  it("Notion: the next refresh reconciles first and sends the rotated refresh token", async () => {
    const notion = await connectMock("notion", "wal-notion");
    await failNextConnectionWrite(notion.userId);
    const first = await vendOk(notion, { force_refresh: true });
    const second = await vendOk(notion, { rejected_token: first.access_token });

    const issued = (await mockProvider.flowState(notion.flow)).refresh_tokens.map((entry) => entry.token);
    expect(await mockProvider.refreshGrants(notion.flow)).toEqual([issued[0], issued[1]]);
    expect(await storedPlaintext(notion, "refresh_token")).toBe(issued[2]);
    expect(await storedPlaintext(notion, "access_token")).toBe(second.access_token);
    expect((await pendingWrites(notion.userId)).size).toBe(0);
  });

  it("Notion: a caller reporting the pre-refresh token gets the reconciled one, without another refresh", async () => {
    const notion = await connectMock("notion", "wal-notion-rejected");
    const original = await storedPlaintext(notion, "access_token");
    await failNextConnectionWrite(notion.userId);
    const refreshed = await vendOk(notion, { force_refresh: true });

    const reported = await vendOk(notion, { rejected_token: original });
    expect(reported.access_token).toBe(refreshed.access_token);
    expect(await mockProvider.refreshGrants(notion.flow)).toHaveLength(1);
  });

  it("that in fact reached D1 leaves a copy that the next refresh discards, refreshing from D1's row", async () => {
    const oidc = await connectLocalOidc("wal-hidden-success");
    await expireStoredToken(oidc.connectionId);
    const before = await storedRow(oidc.connectionId);
    const errors = captureLogs("error");
    await runInDurableObject(env.USER_VAULT.getByName(oidc.userId), (instance: UserVault) => {
      const vault = instance as unknown as { writeConnection: typeof updateConnection };
      const spy = vi.spyOn(vault, "writeConnection").mockImplementationOnce(async (...args) => {
        await updateConnection(...args);
        throw new Error("D1_ERROR: the answer was lost");
      });
      onTestFinished(() => spy.mockRestore());
    });
    const vended = (await vendOk(oidc)).access_token;
    expect(errors.messages()).toEqual(["D1 write failed; refreshed tokens kept in the write-ahead copy"]);
    expect(await storedPlaintext(oidc, "access_token")).toBe(vended);
    expect((await pendingWrites(oidc.userId)).size).toBe(1);

    await vendOk(oidc, { rejected_token: vended });
    expect((await pendingWrites(oidc.userId)).size).toBe(0);
    expect((await storedRow(oidc.connectionId)).version).toBe(before.version + 2);
    expect((await localOidc.events(oidc.flow)).counts).toMatchObject({ refresh_token: 2, token_error: 0 });
  });
});
