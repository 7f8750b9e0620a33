import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { userVault } from "../../src/vault/user-vault";
import { auditEvents, connectMock, storedRow } from "../support/refresh-fixtures";
import { newUserId } from "../support/users";

async function remove(userId: string, connectionId: string) {
  return userVault(env, userId).remove({ userId, connectionId, client: { ip: null, userAgent: null }, reason: "user" });
}

async function rowExists(connectionId: string): Promise<boolean> {
  return (await env.DB.prepare("SELECT 1 FROM connections WHERE id = ?").bind(connectionId).first()) !== null;
}

describe("connection removal edge cases", () => {
  it("revokes the access token when the connection holds no refresh token", async () => {
    const connected = await connectMock("google", "remove-access-only");
    await env.DB.prepare("UPDATE connections SET refresh_token_ciphertext = NULL WHERE id = ?").bind(connected.connectionId).run();

    expect(await remove(connected.userId, connected.connectionId)).toEqual({ kind: "removed", upstream: "revoked" });

    const [revoked] = await auditEvents(connected.userId, "token.revoked");
    expect(revoked).toMatchObject({ outcome: "success", detail: { credential: "access" } });
    expect(await rowExists(connected.connectionId)).toBe(false);
  });

  it("still removes a connection whose stored token no longer decrypts, recording the failed revocation", async () => {
    const connected = await connectMock("google", "remove-undecryptable");
    const row = await storedRow(connected.connectionId);
    expect(row).toBeTruthy();
    await env.DB.prepare("UPDATE connections SET refresh_token_ciphertext = access_token_ciphertext WHERE id = ?")
      .bind(connected.connectionId)
      .run();

    expect(await remove(connected.userId, connected.connectionId)).toEqual({ kind: "removed", upstream: "failed" });

    const [revoked] = await auditEvents(connected.userId, "token.revoked");
    expect(revoked).toMatchObject({ outcome: "failure", detail: { credential: "refresh", reason: "undecryptable" } });
    expect(await rowExists(connected.connectionId)).toBe(false);
  });

  it("removing a connection the user does not have is not_found", async () => {
    expect(await remove(newUserId("remove-missing"), "no-such-connection")).toEqual({ kind: "not_found" });
  });
});

describe("re-encryption edge cases", () => {
  it("re-encrypting a connection that is gone is not_found", async () => {
    const userId = newUserId("re-encrypt-missing");
    expect(await userVault(env, userId).reEncrypt(userId, "no-such-connection")).toBe("not_found");
  });
});
