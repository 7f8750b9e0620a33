/** Helpers for provider tests inside workerd: the configured providers, and driving the mock authorization step. */
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

export function uniqueFlow(label: string): string {
  return `${label}-${crypto.randomUUID()}`;
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
}

export async function mockRequests(filter: { flow?: string; path?: string }): Promise<LoggedRequest[]> {
  const response = await fetch(`${mockOrigin()}/__control/requests?${new URLSearchParams(filter)}`);
  return ((await response.json()) as { requests: LoggedRequest[] }).requests;
}

export async function queueResponses(flow: string, endpoint: "token" | "revoke", responses: object[]): Promise<void> {
  const response = await fetch(`${mockOrigin()}/__control/flows/${flow}/responses`, {
    method: "POST",
    body: JSON.stringify({ endpoint, responses }),
  });
  expect(response.ok).toBe(true);
}

/** A provider from the test configuration with some bindings replaced (e.g. an endpoint aimed at `/__control/respond`). */
export function providerWithBindings(id: string, overrides: Record<string, string>): Provider {
  const bindings = testBindings({ mockProviderOrigin: mockOrigin(), oidcIssuer: inject("oidcIssuer") });
  const provider = getProviderRegistry(parseConfig({ ...bindings, ...overrides })).get(id);
  if (!provider) throw new Error(`no provider ${id}`);
  return provider;
}

/** A mock endpoint answering exactly `answer` (see `/__control/respond` in test/support/mock-providers.ts). */
export function respondUrl(answer: Record<string, string>): string {
  return `${mockOrigin()}/__control/respond?${new URLSearchParams({ mock_flow: uniqueFlow("respond"), ...answer })}`;
}

/** Scripts the next discovery or key set answers of the mock OIDC issuer `key` (IssuerBehaviour in the mock's state). */
export async function scriptIssuer(key: string, endpoint: "discovery" | "jwks", responses: { status?: number; hold?: boolean }[]) {
  const response = await fetch(`${mockOrigin()}/__control/oidc/${key}/responses`, {
    method: "POST",
    body: JSON.stringify({ endpoint, responses }),
  });
  expect(response.ok).toBe(true);
}

/** Lets the held requests of the mock OIDC issuer `key` answer as scripted. */
export async function releaseHeldRequests(key: string): Promise<void> {
  const response = await fetch(`${mockOrigin()}/__control/oidc/${key}/release`, { method: "POST" });
  expect(response.ok).toBe(true);
}

/** Resolves once the mock has received `count` requests for `path` (a long-poll at the mock, no polling here). */
export async function untilMockReceived(path: string, count = 1): Promise<void> {
  const response = await fetch(`${mockOrigin()}/__control/requests?${new URLSearchParams({ path, wait_for: String(count) })}`);
  const { requests } = (await response.json()) as { requests: unknown[] };
  expect(requests.length).toBeGreaterThanOrEqual(count);
}
