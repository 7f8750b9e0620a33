/**
 * A connection that no key in the ring decrypts (its key was removed from `TOKEN_ENCRYPTION_KEYS` too early, or the
 * stored value was damaged): a classified answer instead of a 500, `needs_reauth` with `status_reason`
 * `key_unavailable`, and a reconnect that heals it, asking for consent so that a new refresh token comes with it.
 */
import { describe, expect, it } from "vitest";
import type { Connection } from "../support/api-client";
import { Browser } from "../support/browser";
import { connectAccount, finishInBrowser } from "../support/connect-flow";
import { activateOk } from "../support/integration-helpers";
import { captureLogs } from "../support/logs";
import { expectProblem } from "../support/problems";
import { type Connected, connectMock, storedPlaintext, vendOk, waitForAudit } from "../support/refresh-fixtures";
import { decryptRow, K3, moveRowToKeys, readRow } from "../support/seed-connections";
import { service } from "../support/toolkit";

function shown(connected: Connected): Promise<Connection> {
  return service.connection(connected.userId, connected.connectionId);
}

/** A Google connection whose tokens were written under a key the service no longer holds. */
async function unreadableGoogle(label: string): Promise<Connected> {
  const google = await connectMock("google", label);
  await moveRowToKeys(google.connectionId, K3);
  return google;
}

describe("a connection that no key in the ring decrypts", () => {
  it("answers a vend with 409 needs-reauth, never a 500, and shows status_reason key_unavailable", async () => {
    const google = await unreadableGoogle("key-gone-vend");
    const errors = captureLogs("error");

    const problem = await expectProblem(await service.vend(google.userId, google.connectionId), 409, "needs-reauth");

    expect(problem.connection_status).toBe("needs_reauth");
    expect(await shown(google)).toMatchObject({ status: "needs_reauth", status_reason: "key_unavailable" });
    const [event] = await waitForAudit(google.userId, "token.refresh_failed");
    expect(event).toMatchObject({ outcome: "failure", detail: { class: "reauth", reason: "key_unavailable" } });
    expect(errors.lines()).toEqual([
      expect.objectContaining({
        message: "OPERATOR ACTION NEEDED: a stored token decrypts with no key in the ring",
        connectionId: google.connectionId,
      }),
    ]);
  });

  it("is healed by connecting the account again: active, status_reason null, and vending", async () => {
    const google = await unreadableGoogle("key-gone-reconnect");
    captureLogs("error");
    await service.vend(google.userId, google.connectionId);

    const reconnected = await connectAccount(service, new Browser(), google.userId, "google", {
      providerParams: { mock_flow: google.flow },
    });

    expect(reconnected.status).toBe(200);
    expect(await shown(google)).toEqual(expect.objectContaining({ status: "active", status_reason: null }));
    expect((await vendOk(google)).access_token).toBe(await storedPlaintext(google, "access_token"));
  });

  it("asks Google for consent again when an integration is activated on it, so a new refresh token is issued", async () => {
    const google = await unreadableGoogle("key-gone-activate");
    const warnings = captureLogs("warn");

    const answer = await activateOk(google.userId, "google-calendar");
    expect(answer.status).toBe("authorization_required");
    const { authorization_url } = answer as { authorization_url: string };
    const { providerUrl, callback } = await finishInBrowser(new Browser(), authorization_url, { mock_flow: google.flow });

    // Without consent Google sends no refresh token, and the one held cannot be read.
    expect(providerUrl.searchParams.get("prompt")).toBe("consent");
    expect(callback.status).toBe(200);
    const row = (await readRow(google.connectionId))!;
    expect(row).toMatchObject({ status: "active", keyId: "k2" });
    expect((await decryptRow(row)).refreshToken).not.toBeNull();
    expect(warnings.lines()).toEqual([
      expect.objectContaining({ message: "stored refresh token does not decrypt", connectionId: google.connectionId }),
    ]);
  });

  it("is saved without the refresh token no key decrypts when a reconnect brings none, instead of failing", async () => {
    const microsoft = await connectMock("microsoft", "key-gone-no-refresh-token");
    await moveRowToKeys(microsoft.connectionId, K3);
    const warnings = captureLogs("warn");

    // The user leaves offline_access unticked: Microsoft issues no refresh token.
    const reconnected = await connectAccount(service, new Browser(), microsoft.userId, "microsoft", {
      providerParams: { mock_flow: microsoft.flow, mock_scope: "openid profile email User.Read" },
    });

    await expectProblem(reconnected, 403, "scope-not-granted");
    const row = (await readRow(microsoft.connectionId))!;
    expect(row).toMatchObject({ status: "active", statusReason: null, keyId: "k2", refreshTokenCiphertext: null });
    expect((await vendOk(microsoft)).access_token).toBe(await storedPlaintext(microsoft, "access_token"));
    expect(warnings.messages()).toEqual(["stored refresh token does not decrypt"]);
  });
});
