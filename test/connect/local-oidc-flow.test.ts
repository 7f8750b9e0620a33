import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { LOCAL_OIDC_ID } from "../support/bindings";
import { rewriteQuery } from "../support/browser";
import { authHeaders } from "../support/caller-token";
import { authorizeInBrowser, connectAccount, requestAuthorizationUrl } from "../support/flows";
import { callWorker } from "../support/worker";

const issuer = () => inject("oidcIssuer");

function newAccount(): string {
  return `t-${crypto.randomUUID()}`;
}

async function controlAccount(account: string, behaviour: { deny_scopes?: string[]; deny?: boolean }): Promise<void> {
  const response = await fetch(`${issuer()}/__control/accounts/${account}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(behaviour),
  });
  expect(response.status).toBe(204);
}

async function storedRow(connectionId: string): Promise<Record<string, unknown>> {
  const row = await env.DB.prepare("SELECT * FROM connections WHERE id = ?").bind(connectionId).first();
  expect(row).not.toBeNull();
  return row!;
}

describe("connecting an account at a local OpenID Connect server", () => {
  it("connects, stores the granted scopes and the account, and keeps the tokens encrypted", async () => {
    const account = newAccount();
    const response = await connectAccount("oidc-user-1", LOCAL_OIDC_ID, {
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
    const events = (await (await fetch(`${issuer()}/__control/events?account=${account}`)).json()) as { counts: Record<string, number> };
    expect(events.counts.authorization_code).toBe(1);
  });

  it("sends PKCE S256, a nonce and the state to the provider", async () => {
    const startUrl = await requestAuthorizationUrl("oidc-user-params", LOCAL_OIDC_ID);
    const { providerUrl } = await authorizeInBrowser(startUrl, { login_hint: newAccount() });
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
    const response = await connectAccount("oidc-user-return", LOCAL_OIDC_ID, {
      return_to: "https://app.example.com/settings?tab=accounts",
      providerParams: { login_hint: newAccount() },
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
    const account = newAccount();
    const first = (await (await connectAccount("oidc-user-again", LOCAL_OIDC_ID, { providerParams: { login_hint: account } })).json()) as {
      connection: { id: string; created_at: string };
    };
    await env.DB.prepare("UPDATE connections SET status = 'needs_reauth', status_reason = 'invalid_grant' WHERE id = ?")
      .bind(first.connection.id)
      .run();
    const second = (await (
      await connectAccount("oidc-user-again", LOCAL_OIDC_ID, { scopes: ["api:write"], providerParams: { login_hint: account } })
    ).json()) as { connection: { id: string; created_at: string; status: string; scopes: string[] } };
    expect(second.connection.id).toBe(first.connection.id);
    expect(second.connection.created_at).toBe(first.connection.created_at);
    expect(second.connection.status).toBe("active");
    expect(second.connection.scopes).toContain("api:write");
    const list = (await (await callWorker("/v1/connections", { headers: await authHeaders("oidc-user-again") })).json()) as {
      connections: unknown[];
    };
    expect(list.connections).toHaveLength(1);
  });

  it("reports a refusal at the provider with its own error code and creates nothing", async () => {
    const account = newAccount();
    await controlAccount(account, { deny: true });
    const response = await connectAccount("oidc-user-denied", LOCAL_OIDC_ID, {
      return_to: "https://app.example.com/done",
      providerParams: { login_hint: account },
    });
    expect(response.status).toBe(302);
    expect(new URL(response.headers.get("Location")!).searchParams.get("error")).toBe("access_denied");
    const list = (await (await callWorker("/v1/connections", { headers: await authHeaders("oidc-user-denied") })).json()) as {
      connections: unknown[];
    };
    expect(list.connections).toEqual([]);
  });

  it("stores only the scopes actually granted and says which are missing", async () => {
    const account = newAccount();
    await controlAccount(account, { deny_scopes: ["api:write"] });
    const response = await connectAccount("oidc-user-partial", LOCAL_OIDC_ID, {
      scopes: ["api:read", "api:write"],
      providerParams: { login_hint: account },
    });
    expect(response.status).toBe(403);
    const problem = (await response.json()) as { type: string; error: string; missing_scopes: string[]; connection_id: string };
    expect(problem.type).toBe("urn:connection-manager:problem:scope-not-granted");
    expect(problem.error).toBe("scope_not_granted");
    expect(problem.missing_scopes).toEqual(["api:write"]);
    const row = await storedRow(problem.connection_id);
    expect(String(row.scopes).split(" ")).toContain("api:read");
    expect(String(row.scopes).split(" ")).not.toContain("api:write");
    const consent = await env.DB.prepare("SELECT kind, missing_scopes FROM consents WHERE connection_id = ?")
      .bind(problem.connection_id)
      .first();
    expect(consent).toEqual({ kind: "reduction", missing_scopes: "api:write" });
  });

  it("records a consent grant and audit events for start and success", async () => {
    const response = await connectAccount("oidc-user-audit", LOCAL_OIDC_ID, { providerParams: { login_hint: newAccount() } });
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
    const startUrl = await requestAuthorizationUrl("oidc-user-mixup", LOCAL_OIDC_ID);
    const { browser, callbackUrl } = await authorizeInBrowser(startUrl, { login_hint: newAccount() });
    expect(callbackUrl.searchParams.get("iss")).toBe(issuer());
    const response = await browser.request(new URL(rewriteQuery(callbackUrl, { iss: "https://attacker.example" })));
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe("issuer_mismatch");
  });

  it("requires the iss parameter from a server that advertises it (RFC 9207)", async () => {
    const startUrl = await requestAuthorizationUrl("oidc-user-no-iss", LOCAL_OIDC_ID);
    const { browser, callbackUrl } = await authorizeInBrowser(startUrl, { login_hint: newAccount() });
    const response = await browser.request(new URL(rewriteQuery(callbackUrl, { iss: null })));
    expect(((await response.json()) as { error: string }).error).toBe("issuer_mismatch");
  });
});
