import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { apiClient, type SendToService } from "../support/api-client";
import { appWithEnv } from "../support/app-with-env";
import { captureLogs } from "../support/logs";

/** An OpenID provider whose issuer answers nothing: its discovery document cannot be fetched. */
const unreachableEnv = {
  ...env,
  OIDC_PROVIDERS: JSON.stringify([
    { id: "gone-oidc", name: "Unreachable", issuer: "http://127.0.0.1:9/gone", client_id: "cm", scopes: ["openid"] },
  ]),
  OIDC_GONE_OIDC_CLIENT_SECRET: "secret",
} as Env;

async function startUrlFor(call: SendToService, userId: string): Promise<string> {
  return (await apiClient(call).beginConnect(userId, "gone-oidc")).authorization_url;
}

describe("a provider whose discovery document cannot be fetched", () => {
  it("answers the start URL with 503 and Retry-After, and leaves the link usable for a retry", async () => {
    const call = appWithEnv(unreachableEnv);
    const startUrl = new URL(await startUrlFor(call, "unreachable-start"));
    const warnings = captureLogs("warn");
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await call(startUrl.pathname + startUrl.search, {});
      expect(response.status).toBe(503);
      expect(response.headers.get("Content-Type")).toBe("application/problem+json");
      expect(response.headers.get("Retry-After")).toBe("30");
      expect(response.headers.get("Set-Cookie")).toBeNull();
    }
    expect(warnings.lines()).toEqual(
      Array(2).fill({ message: "authorization URL unavailable", provider: "gone-oidc", error: "DiscoveryError" }),
    );
  });

  it("ends a callback in exchange_failed without exchanging the code", async () => {
    const call = appWithEnv(unreachableEnv);
    const startUrl = new URL(await startUrlFor(call, "unreachable-callback"));
    const state = startUrl.searchParams.get("state")!;
    // The start URL cannot bind a browser here, so bind one by hand from the stored flow.
    const listed = await env.AUTH_STATE.list<{ userId: string }>({ prefix: "authz:" });
    const key = listed.keys.find((entry) => entry.metadata?.userId === "unreachable-callback")!;
    const pending = (await env.AUTH_STATE.get<{ bindingId: string; bindingSecret: string }>(key.name, "json"))!;
    const response = await call(`/v1/oauth/gone-oidc/callback?state=${state}&code=stolen-code`, {
      headers: { Cookie: `cm_flow_${pending.bindingId}=${pending.bindingSecret}` },
    });
    expect(response.status).toBe(502);
    expect(((await response.json()) as { error: string }).error).toBe("exchange_failed");
  });
});
