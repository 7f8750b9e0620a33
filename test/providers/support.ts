/**
 * Helpers for provider tests inside workerd: the configured providers, and driving the mock authorization step. The
 * mock's control API is ../support/mock-control.ts (bound in ../support/toolkit.ts).
 */
import { env } from "cloudflare:workers";
import { expect, inject } from "vitest";
import { getConfig, parseConfig } from "../../src/config";
import type { AuthorizationRequest, Provider, TokenResult, TokenSet } from "../../src/providers/provider";
import { getProviderRegistry } from "../../src/providers/registry";
import { generateCodeVerifier, generateNonce, generateState } from "../../src/providers/secrets";
import { testBindings } from "../support/bindings";

export const mockOrigin = (): string => inject("mockProviderOrigin");

export function configuredProvider(id: string): Provider {
  const provider = getProviderRegistry(getConfig(env)).get(id);
  if (!provider) throw new Error(`no provider ${id}`);
  return provider;
}

export function authorizationRequest(provider: Provider, overrides: Partial<AuthorizationRequest> = {}): AuthorizationRequest {
  return {
    state: generateState(),
    codeVerifier: provider.usesPkce ? generateCodeVerifier() : null,
    nonce: generateNonce(),
    scopes: [...provider.defaultScopes],
    redirectUri: `http://localhost:8787/v1/oauth/${provider.id}/callback`,
    hasRefreshToken: false,
    ...overrides,
  };
}

/** Follows the provider's authorization URL (with `mock_*` steering) and returns the callback it redirects to. */
export async function authorizeAtMock(url: URL, mock: Record<string, string> = {}): Promise<URL> {
  for (const [name, value] of Object.entries(mock)) url.searchParams.set(name, value);
  const response = await fetch(url, { redirect: "manual" });
  expect(response.status).toBe(302);
  return new URL(response.headers.get("Location") ?? "");
}

export interface ConnectedFlow {
  request: AuthorizationRequest;
  callback: URL;
  result: TokenResult;
}

/** Authorization step and code exchange, as the callback would run them. */
export async function connect(
  provider: Provider,
  mock: Record<string, string> = {},
  overrides: Partial<AuthorizationRequest> = {},
): Promise<ConnectedFlow> {
  const request = authorizationRequest(provider, overrides);
  const callback = await authorizeAtMock(await provider.authorizationUrl(request), mock);
  const result = await provider.exchangeCode(callback.searchParams.get("code") ?? "", request.codeVerifier, request.redirectUri);
  return { request, callback, result };
}

export function tokensOf(result: TokenResult): TokenSet {
  if (!result.ok) throw new Error(`token request failed: ${result.failure.kind} ${result.failure.error ?? ""}`);
  return result.tokens;
}

/** A provider from the test configuration with some bindings replaced (e.g. an endpoint aimed at `/__control/respond`). */
export function providerWithBindings(id: string, overrides: Record<string, string>): Provider {
  const bindings = testBindings({ mockProviderOrigin: mockOrigin(), oidcIssuer: inject("oidcIssuer") });
  const provider = getProviderRegistry(parseConfig({ ...bindings, ...overrides })).get(id);
  if (!provider) throw new Error(`no provider ${id}`);
  return provider;
}
