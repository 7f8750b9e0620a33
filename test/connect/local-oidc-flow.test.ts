import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { LOCAL_OIDC_ID } from "../support/bindings";
import { Browser, rewriteQuery } from "../support/browser";
import { authorizeInBrowser, connectAccount, type ConnectAccountOptions } from "../support/connect-flow";
import { newOidcAccount } from "../support/oidc-control";
import { expectProblem } from "../support/problems";
import { storedRow } from "../support/refresh-fixtures";
import { localOidc, service } from "../support/toolkit";

const issuer = () => inject("oidcIssuer");

/** The whole flow of `userId` at the local OpenID Connect server, in a browser of its own. */
function connectLocalAccount(userId: string, options: ConnectAccountOptions): Promise<Response> {
  return connectAccount(service, new Browser(), userId, LOCAL_OIDC_ID, options);
}

async function connectionsOf(userId: string): Promise<unknown[]> {
  return (await service.json<{ connections: unknown[] }>(userId, "/v1/connections")).connections;
}

describe("connecting an account at a local OpenID Connect server", () => {
  it("connects, stores the granted scopes and the account, and keeps the tokens encrypted", async () => {
    const account = newOidcAccount();
    const response = await connectLocalAccount("oidc-user-1", {
      scopes: ["api:read", "profile"],
      providerParams: { login_hint: account },
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    const { connection } = JSON.parse(text) as {
      connection: Record<string, unknown> & { id: string; account: Record<string, string>; scopes: string[] };
    };
    expect(connection.provider).toBe(LOCAL_OIDC_ID);
    expect(connection.status).toBe("active");
    expect(connection.account).toEqual({ id: account, email: `${account}@example.com`, name: `User ${account}` });
    expect(connection.scopes).toEqual(expect.arrayContaining(["openid", "email", "offline_access", "api:read"]));
    expect(connection.access_token_expires_at).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(text).not.toMatch(/token"\s*:/);

    const row = await storedRow(connection.id);
    expect(row.access_token_ciphertext).toMatch(/^v1\.k2\./);
    expect(row.refresh_token_ciphertext).toMatch(/^v1\.k2\./);
    expect(row.key_id).toBe("k2");
    expect((await localOidc.events(account)).counts.authorization_code).toBe(1);
  });

  it("sends PKCE S256, a nonce and the state to the provider", async () => {
    const { authorization_url: startUrl } = await service.beginConnect("oidc-user-params", LOCAL_OIDC_ID);
    const { providerUrl } = await authorizeInBrowser(new Browser(), startUrl, { login_hint: newOidcAccount() });
    expect(providerUrl.origin).toBe(issuer());
    expect(providerUrl.searchParams.get("code_challenge_method")).toBe("S256");
    expect(providerUrl.searchParams.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(providerUrl.searchParams.get("nonce")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(providerUrl.searchParams.get("state")).toBe(new URL(startUrl).searchParams.get("state"));
    expect(providerUrl.searchParams.get("redirect_uri")).toBe(`http://localhost:8787/v1/oauth/${LOCAL_OIDC_ID}/callback`);
    // OIDC Core §11: offline_access needs consent.
    expect(providerUrl.searchParams.get("prompt")).toBe("consent");
  });

  it("redirects to return_to with the connection id", async () => {
    const response = await connectLocalAccount("oidc-user-return", {
      return_to: "https://app.example.com/settings?tab=accounts",
      providerParams: { login_hint: newOidcAccount() },
    });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get("Location")!);
    expect(location.origin + location.pathname).toBe("https://app.example.com/settings");
    expect(location.searchParams.get("tab")).toBe("accounts");
    expect(location.searchParams.get("status")).toBe("connected");
    expect(location.searchParams.get("connection_id")).toMatch(/^conn_/);
    expect(response.headers.get("Referrer-Policy")).toBe("no-referrer");
  });

  it("reconnecting the same account updates the one connection in place", async () => {
    const account = newOidcAccount();
    const first = (await (await connectLocalAccount("oidc-user-again", { providerParams: { login_hint: account } })).json()) as {
      connection: { id: string; created_at: string };
    };
    await env.DB.prepare("UPDATE connections SET status = 'needs_reauth', status_reason = 'invalid_grant' WHERE id = ?")
      .bind(first.connection.id)
      .run();
    const second = (await (
      await connectLocalAccount("oidc-user-again", { scopes: ["api:write"], providerParams: { login_hint: account } })
    ).json()) as { connection: { id: string; created_at: string; status: string; scopes: string[] } };
    expect(second.connection.id).toBe(first.connection.id);
    expect(second.connection.created_at).toBe(first.connection.created_at);
    expect(second.connection.status).toBe("active");
    expect(second.connection.scopes).toContain("api:write");
    expect(await connectionsOf("oidc-user-again")).toHaveLength(1);
  });

  it("reports a refusal at the provider with its own error code and creates nothing", async () => {
    const account = newOidcAccount();
    await localOidc.steerAccount(account, { deny: true });
    const response = await connectLocalAccount("oidc-user-denied", {
      return_to: "https://app.example.com/done",
      providerParams: { login_hint: account },
    });
    expect(response.status).toBe(302);
    expect(new URL(response.headers.get("Location")!).searchParams.get("error")).toBe("access_denied");
    expect(await connectionsOf("oidc-user-denied")).toEqual([]);
  });

  it("stores only the scopes actually granted and says which are missing", async () => {
    const account = newOidcAccount();
    await localOidc.steerAccount(account, { deny_scopes: ["api:write"] });
    const response = await connectLocalAccount("oidc-user-partial", {
      scopes: ["api:read", "api:write"],
      providerParams: { login_hint: account },
    });
    const problem = await expectProblem(response, 403, "scope-not-granted");
    expect(problem.error).toBe("scope_not_granted");
    expect(problem.missing_scopes).toEqual(["api:write"]);
    const connectionId = problem.connection_id as string;
    const row = await storedRow(connectionId);
    expect(String(row.scopes).split(" ")).toContain("api:read");
    expect(String(row.scopes).split(" ")).not.toContain("api:write");
    const consent = await env.DB.prepare("SELECT kind, missing_scopes FROM consents WHERE connection_id = ?").bind(connectionId).first();
    expect(consent).toEqual({ kind: "reduction", missing_scopes: "api:write" });
  });

  it("records a consent grant and audit events for start and success", async () => {
    const response = await connectLocalAccount("oidc-user-audit", { providerParams: { login_hint: newOidcAccount() } });
    const { connection } = (await response.json()) as { connection: { id: string } };
    const consent = await env.DB.prepare("SELECT kind, user_id, provider FROM consents WHERE connection_id = ?")
      .bind(connection.id)
      .first();
    expect(consent).toEqual({ kind: "grant", user_id: "oidc-user-audit", provider: LOCAL_OIDC_ID });
    const audit = await env.DB.prepare("SELECT action, outcome, detail FROM audit_events WHERE user_id = ? ORDER BY at")
      .bind("oidc-user-audit")
      .all<{ action: string; outcome: string; detail: string }>();
    const actions = audit.results.map((event) => `${event.action}:${event.outcome}`);
    expect(actions).toEqual(expect.arrayContaining(["authorization.started:success", "authorization.callback:success"]));
    for (const event of audit.results) expect(event.detail).not.toMatch(/token|code/i);
  });

  it("refuses an iss parameter that is not the provider's issuer (mix-up)", async () => {
    const { authorization_url: startUrl } = await service.beginConnect("oidc-user-mixup", LOCAL_OIDC_ID);
    const browser = new Browser();
    const { callbackUrl } = await authorizeInBrowser(browser, startUrl, { login_hint: newOidcAccount() });
    expect(callbackUrl.searchParams.get("iss")).toBe(issuer());
    const response = await browser.request(new URL(rewriteQuery(callbackUrl, { iss: "https://attacker.example" })));
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe("issuer_mismatch");
  });

  it("requires the iss parameter from a server that advertises it (RFC 9207)", async () => {
    const { authorization_url: startUrl } = await service.beginConnect("oidc-user-no-iss", LOCAL_OIDC_ID);
    const browser = new Browser();
    const { callbackUrl } = await authorizeInBrowser(browser, startUrl, { login_hint: newOidcAccount() });
    const response = await browser.request(new URL(rewriteQuery(callbackUrl, { iss: null })));
    expect(((await response.json()) as { error: string }).error).toBe("issuer_mismatch");
  });
});
