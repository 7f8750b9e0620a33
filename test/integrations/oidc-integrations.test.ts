import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { parseConfig } from "../../src/config";
import { integrationCatalogue } from "../../src/integrations/catalogue";
import { apiClient, type SendToService } from "../support/api-client";
import { appWithEnv, useEnvInVault } from "../support/app-with-env";
import { LOCAL_OIDC_CLIENT, LOCAL_OIDC_ID } from "../support/bindings";
import { Browser } from "../support/browser";
import { connectAccount, finishInBrowser } from "../support/connect-flow";
import { activateOk, allConsents, integration } from "../support/integration-helpers";
import { newOidcAccount } from "../support/oidc-control";
import { expectProblem } from "../support/problems";
import { localOidc } from "../support/toolkit";
import { newUserId } from "../support/users";

const LOCAL_API = {
  key: "local-api",
  name: "Local API",
  description: "Reads and writes the local API.",
  scopes: ["api:read", "api:write"],
};

function oidcProviders(integrations: unknown[]): string {
  return JSON.stringify([
    {
      id: LOCAL_OIDC_ID,
      name: "Local OpenID Provider",
      issuer: inject("oidcIssuer"),
      client_id: LOCAL_OIDC_CLIENT.clientId,
      scopes: ["openid", "email", "profile", "offline_access", "api:read", "api:write"],
      default_scopes: ["openid", "email", "offline_access"],
      integrations,
    },
  ]);
}

/** The Worker's app, and `userId`'s vault (which completes the flows), with the local OIDC provider declaring `local-api`. */
async function appWithIntegration(userId: string): Promise<SendToService> {
  const integrationEnv = { ...env, OIDC_PROVIDERS: oidcProviders([LOCAL_API]) } as Env;
  await useEnvInVault(userId, integrationEnv);
  return appWithEnv(integrationEnv);
}

async function connectThrough(call: SendToService, userId: string, account: string, scopes: string[]): Promise<string> {
  const callback = await connectAccount(apiClient(call), new Browser(call), userId, LOCAL_OIDC_ID, {
    scopes,
    providerParams: { login_hint: account },
  });
  expect(callback.status, await callback.clone().text()).toBe(200);
  return ((await callback.json()) as { connection: { id: string } }).connection.id;
}

describe("the integration catalogue", () => {
  it("adds the integrations an OIDC provider declares, under that provider", () => {
    const catalogue = integrationCatalogue(parseConfig({ ...env, OIDC_PROVIDERS: oidcProviders([LOCAL_API]) }));
    expect(catalogue.get("local-api")).toEqual({ ...LOCAL_API, provider: LOCAL_OIDC_ID });
    expect(catalogue.get("google-calendar")?.provider).toBe("google");
  });

  it("never lets a declared integration replace a built-in one with the same key", () => {
    const catalogue = integrationCatalogue(parseConfig({ ...env, OIDC_PROVIDERS: oidcProviders([{ ...LOCAL_API, key: "gmail" }]) }));
    expect(catalogue.get("gmail")?.provider).toBe("google");
  });

  it("refuses a declared integration whose scopes the provider does not allow, naming the variable", () => {
    expect(() => parseConfig({ ...env, OIDC_PROVIDERS: oidcProviders([{ ...LOCAL_API, scopes: ["api:admin"] }]) })).toThrow(
      /OIDC_PROVIDERS/,
    );
  });
});

describe("activating an integration of the local OpenID provider end to end", () => {
  it("asks for the granted plus the needed scopes and becomes active once the flow grants them", async () => {
    const user = newUserId("oidc-int");
    const call = await appWithIntegration(user);
    const account = newOidcAccount();
    const connectionId = await connectThrough(call, user, account, ["api:read"]);

    const answer = await activateOk(user, "local-api", {}, call);
    expect(answer.status).toBe("authorization_required");
    expect(await integration(user, "local-api", call)).toMatchObject({ status: "authorization_required", missing_scopes: ["api:write"] });

    const { providerUrl, callback } = await finishInBrowser(
      new Browser(call),
      (answer as { authorization_url: string }).authorization_url,
      {
        login_hint: account,
      },
    );
    // No incremental consent at a plain OIDC provider: what is already granted is asked for again.
    expect((providerUrl.searchParams.get("scope") ?? "").split(" ").sort()).toEqual([
      "api:read",
      "api:write",
      "email",
      "offline_access",
      "openid",
    ]);
    // OIDC Core §11: offline_access needs consent again, or the server drops it from the new grant.
    expect(providerUrl.searchParams.get("prompt")).toBe("consent");
    expect(callback.status, await callback.clone().text()).toBe(200);
    const { connection } = (await callback.json()) as { connection: { id: string; scopes: string[] } };
    expect(connection.id).toBe(connectionId);
    expect(connection.scopes).toEqual(expect.arrayContaining(["api:read", "api:write", "offline_access"]));

    expect(await integration(user, "local-api", call)).toMatchObject({ status: "active", missing_scopes: [], connection_id: connectionId });
    const kinds = (await allConsents(user, call)).map((consent) => consent.kind);
    expect(kinds.slice(0, 2).sort()).toEqual(["expansion", "integration_activated"]);
  });

  it("activates at once when the OIDC connection already holds the scopes", async () => {
    const user = newUserId("oidc-int-held");
    const call = await appWithIntegration(user);
    const connectionId = await connectThrough(call, user, newOidcAccount(), ["api:read", "api:write"]);
    expect(await activateOk(user, "local-api", {}, call)).toEqual({ status: "active" });
    expect(await integration(user, "local-api", call)).toMatchObject({ status: "active", connection_id: connectionId });
  });

  it("creates the connection and activates when the user had none yet", async () => {
    const user = newUserId("oidc-int-new");
    const call = await appWithIntegration(user);
    const answer = (await activateOk(user, "local-api", {}, call)) as { authorization_url: string };
    const { callback } = await finishInBrowser(new Browser(call), answer.authorization_url, { login_hint: newOidcAccount() });
    expect(callback.status).toBe(200);
    const { connection } = (await callback.json()) as { connection: { id: string } };
    expect(await integration(user, "local-api", call)).toMatchObject({ status: "active", connection_id: connection.id });
  });

  it("stays authorization_required with the missing scope and records a reduction when the user grants less", async () => {
    const user = newUserId("oidc-int-partial");
    const call = await appWithIntegration(user);
    const account = newOidcAccount();
    await connectThrough(call, user, account, ["api:read"]);
    await localOidc.steerAccount(account, { deny_scopes: ["api:write"] });

    const answer = (await activateOk(user, "local-api", {}, call)) as { authorization_url: string };
    const { callback } = await finishInBrowser(new Browser(call), answer.authorization_url, { login_hint: account });
    const problem = await expectProblem(callback, 403, "scope-not-granted");
    expect(problem.missing_scopes).toEqual(["api:write"]);

    expect(await integration(user, "local-api", call)).toMatchObject({ status: "authorization_required", missing_scopes: ["api:write"] });
    const [newest] = await allConsents(user, call);
    expect(newest).toMatchObject({ kind: "reduction", missing_scopes: ["api:write"] });
    const { consents } = await apiClient(call).json<{ consents: { kind: string }[] }>(user, "/v1/consents");
    expect(consents.some((consent) => consent.kind === "integration_activated")).toBe(false);
  });
});
