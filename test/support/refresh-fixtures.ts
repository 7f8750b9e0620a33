/**
 * Helpers for token vending and refresh tests inside workerd: connecting a mock or local-OIDC account, vending as
 * its user, steering the stored row and the user's Durable Object, and seams for concurrency and lost responses.
 * Calls and what the providers received go through the shared toolkit (./toolkit.ts).
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, inject, onTestFinished, vi } from "vitest";
import { getConfig } from "../../src/config";
import { getTokenCipher } from "../../src/crypto/token-cipher";
import type { updateConnection } from "../../src/storage/connections";
import type { PendingWrite } from "../../src/vault/pending-writes";
import type { UserVault } from "../../src/vault/user-vault";
import type { VendBody, VendedToken } from "./api-client";
import { LOCAL_OIDC_ID } from "./bindings";
import { Browser } from "./browser";
import { authHeaders } from "./caller-token";
import { connectAccount } from "./connect-flow";
import { captureLogs, type CapturedLogs } from "./logs";
import { tokenRequestFields, newMockId } from "./mock-control";
import { newOidcAccount } from "./oidc-control";
import { configuredProvider, connect, tokensOf } from "../providers/support";
import { cipherFor, seedConnection, type SeedOptions } from "./seed-connections";
import { mockProvider, service } from "./toolkit";
import { newUserId } from "./users";

export interface Connected {
  userId: string;
  connectionId: string;
  /** The mock flow id (`mock_flow`), or the local OIDC account id (`login_hint`). */
  flow: string;
}

/** Connects `provider` at the mock endpoints under a fresh flow id; `expiresIn` sets the exchange's `expires_in`. */
export async function connectMock(
  provider: "google" | "microsoft" | "notion",
  label: string,
  options: { expiresIn?: number } = {},
): Promise<Connected> {
  const flow = newMockId(label);
  const providerParams: Record<string, string> = { mock_flow: flow };
  if (options.expiresIn !== undefined) providerParams.mock_expires_in = JSON.stringify(options.expiresIn);
  return connectedThroughBrowser(label, provider, providerParams, flow);
}

/** Connects an account of its own at the local oidc-provider (rotating refresh tokens). */
export async function connectLocalOidc(label: string): Promise<Connected> {
  const account = newOidcAccount();
  return connectedThroughBrowser(label, LOCAL_OIDC_ID, { login_hint: account }, account);
}

/** A new user's connection through the whole flow in a browser of its own (the callback answers 200). */
async function connectedThroughBrowser(
  label: string,
  provider: string,
  providerParams: Record<string, string>,
  flow: string,
): Promise<Connected> {
  const userId = newUserId(label);
  const response = await connectAccount(service, new Browser(), userId, provider, { providerParams });
  expect(response.status, await response.clone().text()).toBe(200);
  const { connection } = (await response.json()) as { connection: { id: string } };
  return { userId, connectionId: connection.id, flow };
}

/**
 * A connection seeded straight into D1 that holds a live Google refresh token of a mock flow of its own, so a refresh
 * of it really happens at the mock (for the scans and jobs that select rows by expiry, cooldown and status).
 */
export async function seedGoogleConnection(options: Omit<SeedOptions, "refreshToken" | "provider">): Promise<{ id: string; flow: string }> {
  const flow = newMockId("seeded");
  const tokens = tokensOf((await connect(configuredProvider("google"), { mock_flow: flow })).result);
  const row = await seedConnection({ ...options, provider: "google", refreshToken: tokens.refreshToken, accessToken: tokens.accessToken });
  return { id: row.id, flow };
}

/** Token requests the mock received for the flow after its code exchange: the refreshes. */
export async function refreshesAt(flow: string): Promise<number> {
  return (await mockProvider.flowState(flow)).token_requests - 1;
}

/** Vends as the connection's user and expects a 200 (./api-client.ts `vendOk`). */
export function vendOk(connected: Connected, body: VendBody = {}): Promise<VendedToken> {
  return service.vendOk(connected.userId, connected.connectionId, body);
}

/** A row of the connections table as D1 stores it (snake_case columns). */
export interface StoredConnection {
  id: string;
  status: string;
  scopes: string;
  key_id: string;
  status_reason: string | null;
  access_token_ciphertext: string;
  refresh_token_ciphertext: string | null;
  access_token_expires_at: number | null;
  access_token_issued_at: number | null;
  version: number;
  last_refreshed_at: number | null;
  refresh_failures: number;
  refresh_blocked_until: number | null;
  last_refresh_failure: string | null;
  last_refresh_failure_class: string | null;
  pending_write_key_id: string | null;
}

export async function storedRow(connectionId: string): Promise<StoredConnection> {
  const row = await env.DB.prepare("SELECT * FROM connections WHERE id = ?").bind(connectionId).first<StoredConnection>();
  expect(row).not.toBeNull();
  return row!;
}

/** Makes the stored access token expired (one minute ago) without touching the tokens themselves. */
export async function expireStoredToken(connectionId: string): Promise<void> {
  await env.DB.prepare("UPDATE connections SET access_token_expires_at = ? WHERE id = ?")
    .bind(Date.now() - 60_000, connectionId)
    .run();
}

/** Moves the stored access token's issue and expiry times `ms` into the past, as if that much time had passed. */
export async function ageStoredToken(connectionId: string, ms: number): Promise<void> {
  await env.DB.prepare(
    "UPDATE connections SET access_token_expires_at = access_token_expires_at - ?1, access_token_issued_at = access_token_issued_at - ?1 WHERE id = ?2",
  )
    .bind(ms, connectionId)
    .run();
}

/** Lifts a cooldown, as if its time had passed. */
export async function endCooldown(connectionId: string): Promise<void> {
  await env.DB.prepare("UPDATE connections SET refresh_blocked_until = NULL WHERE id = ?").bind(connectionId).run();
}

// --- a provider whose discovery is broken ---

/** The id of the OpenID provider `brokenDiscoveryEnv` adds. */
export const BROKEN_PROVIDER = "broken-sso";

export type BrokenDiscovery = "not_found" | "wrong_issuer" | "malformed";

/**
 * The Worker's env plus an OpenID provider whose discovery is broken for good: the document is not there (404), names
 * another issuer, or lacks its token endpoint. Returns the env and a count of the discovery fetches it caused.
 */
export async function brokenDiscoveryEnv(how: BrokenDiscovery): Promise<{ env: Env; discoveryFetches: () => Promise<number> }> {
  const key = newMockId("broken");
  const mockOrigin = inject("mockProviderOrigin");
  const issuer = how === "not_found" ? `${mockOrigin}/gone/${key}` : `${mockOrigin}/oidc/${key}`;
  if (how !== "not_found") {
    await mockProvider.overrideDiscovery(key, how === "wrong_issuer" ? { issuer: "https://elsewhere.example" } : { token_endpoint: null });
  }
  const providers = [
    ...(JSON.parse(env.OIDC_PROVIDERS) as object[]),
    { id: BROKEN_PROVIDER, name: "Broken SSO", issuer, client_id: "connection-manager", scopes: ["openid"] },
  ];
  const discoveryPath = `${new URL(issuer).pathname}/.well-known/openid-configuration`;
  return {
    env: { ...env, OIDC_PROVIDERS: JSON.stringify(providers), OIDC_BROKEN_SSO_CLIENT_SECRET: "broken-sso-secret" } as Env,
    discoveryFetches: async () => (await mockProvider.requests({ path: discoveryPath })).length,
  };
}

// --- audit ---

export interface AuditRow {
  action: string;
  outcome: string;
  actor: string;
  detail: Record<string, unknown>;
  raw: string;
}

/** The audit rows of `userId` with `action`, oldest first. */
export function auditEvents(userId: string, action: string): Promise<AuditRow[]> {
  return auditRowsWhere("user_id = ? AND action = ?", userId, action);
}

/** Every audit row about `connectionId`, oldest first. */
export function connectionAudit(connectionId: string): Promise<AuditRow[]> {
  return auditRowsWhere("connection_id = ?", connectionId);
}

async function auditRowsWhere(condition: string, ...params: string[]): Promise<AuditRow[]> {
  const result = await env.DB.prepare(`SELECT action, outcome, actor, detail FROM audit_events WHERE ${condition} ORDER BY at, id`)
    .bind(...params)
    .all<{ action: string; outcome: string; actor: string; detail: string }>();
  return result.results.map((row) => ({ ...row, detail: JSON.parse(row.detail) as Record<string, unknown>, raw: row.detail }));
}

/** Waits for `count` audit rows; a vend's row is written by the audit queue's consumer, after the response. */
export async function waitForAudit(userId: string, action: string, count = 1): Promise<AuditRow[]> {
  return vi.waitFor(
    async () => {
      const events = await auditEvents(userId, action);
      expect(events.length).toBeGreaterThanOrEqual(count);
      return events;
    },
    { timeout: 5_000, interval: 50 },
  );
}

// --- seams for concurrency and lost responses (the Durable Object runs in the tests' isolate) ---

/** The refresh token a fetch spends, if it is a refresh grant at a token endpoint. */
function spentRefreshToken(input: RequestInfo | URL, init: RequestInit | undefined): string | null {
  const url = input instanceof Request ? input.url : String(input);
  if (!/\/token$/.test(new URL(url).pathname) || typeof init?.body !== "string") return null;
  const fields = tokenRequestFields(init.body);
  return fields.grant_type === "refresh_token" && typeof fields.refresh_token === "string" ? fields.refresh_token : null;
}

/**
 * Routes the upstream refresh-grant requests that spend the connection's current refresh token through `handle`
 * (every other fetch of the isolate passes through), until the test ends. `forward` sends the request for real,
 * optionally with other headers.
 */
export async function interceptRefreshGrants(
  connected: Connected,
  handle: (forward: (headers?: Record<string, string>) => Promise<Response>, attempt: number) => Promise<Response>,
): Promise<{ attempts: () => number }> {
  const refreshToken = await storedPlaintext(connected, "refresh_token");
  const realFetch = globalThis.fetch.bind(globalThis);
  let attempts = 0;
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    if (spentRefreshToken(input, init) !== refreshToken) return realFetch(input, init);
    attempts += 1;
    const forward = (headers?: Record<string, string>) => {
      if (!headers) return realFetch(input, init);
      const merged = new Headers(init?.headers);
      for (const [name, value] of Object.entries(headers)) merged.set(name, value);
      return realFetch(input, { ...init, headers: merged });
    };
    return handle(forward, attempts);
  });
  onTestFinished(() => spy.mockRestore());
  return { attempts: () => attempts };
}

/**
 * The next refresh grant reaches the provider (which refreshes, and rotates where it does) but its answer never
 * arrives: the client times out (`timeout`) or the connection drops (`network`).
 */
export async function loseNextRefreshResponse(connected: Connected, kind: "timeout" | "network"): Promise<void> {
  await interceptRefreshGrants(connected, async (forward, attempt) => {
    const response = await forward();
    if (attempt > 1) return response;
    await response.arrayBuffer();
    throw kind === "timeout"
      ? new DOMException("The operation was aborted due to timeout", "TimeoutError")
      : new TypeError("Network connection lost.");
  });
}

/** Counts the calls of the user's Durable Object `refresh` (the RPC every non-hot-path vend makes), until the test ends. */
export async function watchVaultRefreshes(
  userId: string,
  onCall: (calls: number) => void = () => undefined,
): Promise<{ calls: () => number }> {
  let calls = 0;
  await runInDurableObject(env.USER_VAULT.getByName(userId), (instance: UserVault) => {
    // RPC only dispatches methods of the class prototype, so the count is kept there, for this user's calls only.
    const prototype = Object.getPrototypeOf(instance) as UserVault;
    const original = prototype.refresh;
    const spy = vi.spyOn(prototype, "refresh").mockImplementation(function (this: UserVault, request) {
      if (request.userId === userId) onCall(++calls);
      return original.call(this, request);
    });
    onTestFinished(() => spy.mockRestore());
  });
  return { calls: () => calls };
}

/**
 * Holds every upstream refresh until `callers` requests have reached the user's Durable Object, so they are all
 * concurrent with the refresh whatever the scheduling. Returns the number of upstream refresh attempts so far.
 */
export async function holdRefreshUntilCallersArrive(
  connected: Connected,
  callers: number,
): Promise<{ attempts: () => number; arrived: () => number }> {
  const { promise: allArrived, resolve } = Promise.withResolvers<void>();
  const vault = await watchVaultRefreshes(connected.userId, (calls) => {
    if (calls === callers) resolve();
  });
  const { attempts } = await interceptRefreshGrants(connected, async (forward) => {
    await allArrived;
    return forward();
  });
  return { attempts, arrived: vault.calls };
}

/** Fires every vend at once and returns the responses: one caller JWT, signed beforehand, so no call waits on signing. */
export async function vendConcurrently(connected: Connected, bodies: VendBody[]): Promise<Response[]> {
  const caller = await authHeaders(connected.userId, { scope: "connections:token" });
  return Promise.all(bodies.map((body) => service.vend(caller, connected.connectionId, body)));
}

/** The pending (write-ahead) copies in the user's Durable Object storage. */
export async function pendingWrites(userId: string): Promise<Map<string, unknown>> {
  return runInDurableObject(env.USER_VAULT.getByName(userId), async (_instance: UserVault, state) =>
    state.storage.list({ prefix: "pending-write:" }),
  );
}

/**
 * Makes the next D1 write of refreshed tokens in the user's Durable Object fail once. The service logs that failure
 * ("D1 write failed; …"): the returned capture holds it instead of the test's output.
 */
export async function failNextConnectionWrite(userId: string): Promise<CapturedLogs> {
  const errors = captureLogs("error");
  await runInDurableObject(env.USER_VAULT.getByName(userId), (instance: UserVault) => {
    const spy = vi
      .spyOn(instance as unknown as { writeConnection: () => Promise<boolean> }, "writeConnection")
      .mockRejectedValueOnce(new Error("D1_ERROR: simulated outage"));
    onTestFinished(() => spy.mockRestore());
  });
  return errors;
}

/**
 * Holds the next D1 write of tokens in the user's Durable Object (whichever task makes it) until `until` settles, so
 * whatever the object queues behind that task waits too. `held()` says whether the write is being held. `until` must
 * settle inside the object (e.g. from a `watchVaultRefreshes` callback): a test that awaits a promise settled there
 * continues in the object's I/O context, where the test's own stubs cannot be used.
 */
export async function holdNextConnectionWrite(userId: string, until: Promise<void>): Promise<{ held: () => boolean }> {
  let held = false;
  await runInDurableObject(env.USER_VAULT.getByName(userId), (instance: UserVault) => {
    const vault = instance as unknown as { writeConnection: typeof updateConnection };
    const write = vault.writeConnection;
    const spy = vi.spyOn(vault, "writeConnection").mockImplementationOnce(async (...args) => {
      held = true;
      await until;
      return write(...args);
    });
    onTestFinished(() => spy.mockRestore());
  });
  return { held: () => held };
}

/** The connection's write-ahead copy in the user's Durable Object storage, if any. */
export async function writeAheadCopy(connected: Connected): Promise<PendingWrite | undefined> {
  return (await pendingWrites(connected.userId)).get(`pending-write:${connected.connectionId}`) as PendingWrite | undefined;
}

/** Rewrites the connection's write-ahead copy under the first key of `keys` (see seed-connections.ts `moveRowToKeys`). */
export async function moveWriteAheadCopyToKeys(connected: Connected, keys: string): Promise<void> {
  const key = `pending-write:${connected.connectionId}`;
  const workerCipher = getTokenCipher(getConfig(env).encryptionKeys);
  const cipher = cipherFor(keys);
  const owner = { userId: connected.userId, connectionId: connected.connectionId };
  const move = async (ciphertext: string, field: "access_token" | "refresh_token") => {
    const decrypted = await workerCipher.decrypt(ciphertext, { ...owner, field });
    if (!decrypted.ok) throw new Error(`the copy's ${field} does not decrypt: ${decrypted.reason}`);
    return cipher.encrypt(decrypted.plaintext, { ...owner, field });
  };
  await runInDurableObject(env.USER_VAULT.getByName(connected.userId), async (_instance: UserVault, state) => {
    const copy = await state.storage.get<PendingWrite>(key);
    if (!copy) throw new Error("no write-ahead copy to move");
    const { accessTokenCiphertext, refreshTokenCiphertext } = copy.update;
    copy.update = {
      ...copy.update,
      accessTokenCiphertext: await move(accessTokenCiphertext!, "access_token"),
      refreshTokenCiphertext: refreshTokenCiphertext === null ? null : await move(refreshTokenCiphertext, "refresh_token"),
      keyId: cipher.currentKeyId,
    };
    await state.storage.put(key, copy);
  });
}

/** The plaintext of a stored token, for assertions on what was sent upstream. */
export async function storedPlaintext(connected: Connected, field: "access_token" | "refresh_token"): Promise<string> {
  const row = await storedRow(connected.connectionId);
  const ciphertext = field === "access_token" ? row.access_token_ciphertext : row.refresh_token_ciphertext;
  const decrypted = await getTokenCipher(getConfig(env).encryptionKeys).decrypt(ciphertext ?? "", {
    userId: connected.userId,
    connectionId: connected.connectionId,
    field,
  });
  if (!decrypted.ok) throw new Error(`cannot decrypt ${field}`);
  return decrypted.plaintext;
}
