/**
 * What a caller sees of an operator's OpenID provider whose discovery is unusable or lists no revocation endpoint:
 * disconnecting and vending over HTTP. The provider is added to the configuration the user's Durable Object runs
 * with, as an operator would deploy it; its connection is seeded, since no flow can complete at a broken provider.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { oidcSecretName } from "../../src/config";
import { useEnvInVault } from "../support/app-with-env";
import { captureLogs } from "../support/logs";
import { newMockId } from "../support/mock-control";
import { MOCK_OIDC_CLIENT } from "../support/mock-provider-server/clients";
import { auditEvents, storedRow } from "../support/refresh-fixtures";
import { readRow, seedConnection } from "../support/seed-connections";
import { mockProvider, service } from "../support/toolkit";
import { newUserId } from "../support/users";
import { mockOrigin } from "./support";

const PROVIDER_ID = "operator-oidc";

/** The Worker's configuration with one more OpenID provider at `issuer` (the mock's OIDC client). */
function envWithProvider(issuer: string): Env {
  const providers = JSON.parse(env.OIDC_PROVIDERS) as unknown[];
  const entry = {
    id: PROVIDER_ID,
    name: "Operator OIDC",
    issuer,
    client_id: MOCK_OIDC_CLIENT.clientId,
    scopes: ["openid", "offline_access"],
  };
  return { ...env, OIDC_PROVIDERS: JSON.stringify([...providers, entry]), [oidcSecretName(PROVIDER_ID)]: MOCK_OIDC_CLIENT.clientSecret };
}

/**
 * A user whose Durable Object (where refreshes and removals run) has that provider configured, and a connection to
 * it whose access token has expired, so a vend must refresh.
 */
async function connectionAt(issuer: string): Promise<{ userId: string; connectionId: string }> {
  const userId = newUserId("oidc-http");
  await useEnvInVault(userId, envWithProvider(issuer));
  const row = await seedConnection({ userId, provider: PROVIDER_ID, expiresAt: Date.now() - 60_000 });
  return { userId, connectionId: row.id };
}

/** A test-unique issuer key at the mock whose discovery document carries `overrides`. */
async function mockIssuer(overrides: Record<string, unknown>): Promise<{ issuer: string; key: string }> {
  const key = newMockId("operator-issuer");
  await mockProvider.overrideDiscovery(key, overrides);
  return { issuer: `${mockOrigin()}/oidc/${key}`, key };
}

function disconnect(userId: string, connectionId: string): Promise<Response> {
  return service.call(userId, `/v1/connections/${connectionId}`, { method: "DELETE" });
}

describe.each([
  ["answers 404", async () => `${mockOrigin()}/no-such-issuer/${newMockId("gone")}`],
  ["names another issuer", async () => (await mockIssuer({ issuer: "https://evil.example.com" })).issuer],
])("an OpenID provider whose discovery document %s", (_problem, brokenIssuer) => {
  it("is disconnected anyway: DELETE answers 204, the row is gone and the failed revocation is audited", async () => {
    const { userId, connectionId } = await connectionAt(await brokenIssuer());
    const errors = captureLogs("error");

    expect((await disconnect(userId, connectionId)).status).toBe(204);
    expect(errors.messages()).toEqual(["OPERATOR ACTION NEEDED: OIDC discovery unusable"]);

    expect(await readRow(connectionId)).toBeNull();
    const [revoked] = await auditEvents(userId, "token.revoked");
    expect(revoked).toMatchObject({ outcome: "failure", detail: { credential: "refresh", reason: "provider_misconfigured" } });
  });

  it("answers a vend with 502, not 500, and cools the connection down", async () => {
    const { userId, connectionId } = await connectionAt(await brokenIssuer());
    const errors = captureLogs("error");

    const response = await service.vend(userId, connectionId);

    expect(response.status).toBe(502);
    expect(errors.lines()).toEqual([
      expect.objectContaining({ message: "OPERATOR ACTION NEEDED: OIDC discovery unusable", provider: PROVIDER_ID }),
      expect.objectContaining({ message: "OPERATOR ACTION NEEDED: the provider cannot refresh with this service's configuration" }),
    ]);
    expect(response.headers.get("Content-Type")).toBe("application/problem+json");
    const row = await storedRow(connectionId);
    expect(row).toMatchObject({ status: "active", last_refresh_failure: "provider_misconfigured", refresh_failures: 1 });
    expect(row.refresh_blocked_until).toBeGreaterThan(Date.now());
  });
});

describe("an OpenID provider whose discovery lists no revocation endpoint", () => {
  it("is disconnected without an upstream call, and the audit says the revocation was skipped and why", async () => {
    const { issuer, key } = await mockIssuer({ revocation_endpoint: null });
    const { userId, connectionId } = await connectionAt(issuer);

    expect((await disconnect(userId, connectionId)).status).toBe(204);

    expect(await readRow(connectionId)).toBeNull();
    expect(await mockProvider.requests({ path: `/oidc/${key}/revoke` })).toEqual([]);
    const [revoked] = await auditEvents(userId, "token.revoked");
    expect(revoked).toMatchObject({
      outcome: "success",
      detail: { credential: "refresh", upstream: "skipped", reason: "no_revocation_endpoint" },
    });
    const [removed] = await auditEvents(userId, "connection.removed");
    expect(removed).toMatchObject({ outcome: "success", detail: { upstream: "unsupported" } });
  });
});
