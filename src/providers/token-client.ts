/**
 * The one token endpoint client (code exchange, refresh, RFC 7009 revocation). arctic's token calls have no
 * timeout, discard error bodies other than 400/401 and drop `Retry-After`, all of which refresh scheduling needs.
 */
import type { RevokeResult, TokenFailure, TokenResult, TokenSet } from "./provider";

/** Upper bound for one token endpoint call; a hung provider must not hold a refresh (or a Worker invocation) open. */
export const DEFAULT_TOKEN_TIMEOUT_MS = 10_000;

export interface ClientAuthentication {
  /** `basic`: HTTP Basic (RFC 6749 §2.3.1); `body`: `client_id`/`client_secret` in the request body. */
  method: "basic" | "body";
  clientId: string;
  clientSecret: string;
}

export interface TokenEndpointRequest {
  url: string;
  params: Record<string, string>;
  encoding: "form" | "json";
  clientAuth: ClientAuthentication;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

type Outcome = { kind: "response"; status: number; headers: Headers; text: string } | { kind: "failed"; failure: TokenFailure };

/** POSTs a token request and classifies the answer; never throws. */
export async function requestToken(request: TokenEndpointRequest): Promise<TokenResult> {
  const outcome = await post(request);
  if (outcome.kind === "failed") return { ok: false, failure: outcome.failure };
  const { status, headers, text } = outcome;
  if (status < 200 || status > 299) return { ok: false, failure: errorFailure(status, headers, text) };
  const body = parseJsonObject(text);
  const tokens = body && tokenSet(body);
  if (!tokens) return { ok: false, failure: failure("malformed_response", { status }) };
  return { ok: true, tokens };
}

/** RFC 7009 revocation: any 2xx means done, even when the token was already dead (§2.2). */
export async function revokeToken(request: TokenEndpointRequest): Promise<RevokeResult> {
  const outcome = await post(request);
  if (outcome.kind === "failed") return { kind: "failed", failure: outcome.failure };
  if (outcome.status >= 200 && outcome.status <= 299) return { kind: "revoked" };
  return { kind: "failed", failure: errorFailure(outcome.status, outcome.headers, outcome.text) };
}

async function post(request: TokenEndpointRequest): Promise<Outcome> {
  const { clientAuth } = request;
  const params: Record<string, string> = { ...request.params };
  const headers = new Headers({ Accept: "application/json", ...request.headers });
  if (clientAuth.method === "basic") {
    headers.set("Authorization", `Basic ${encodeBasicCredentials(clientAuth.clientId, clientAuth.clientSecret)}`);
  } else {
    params.client_id = clientAuth.clientId;
    params.client_secret = clientAuth.clientSecret;
  }
  let body: string;
  if (request.encoding === "json") {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(params);
  } else {
    headers.set("Content-Type", "application/x-www-form-urlencoded");
    body = new URLSearchParams(params).toString();
  }
  try {
    const response = await fetch(request.url, {
      method: "POST",
      headers,
      body,
      signal: AbortSignal.timeout(request.timeoutMs ?? DEFAULT_TOKEN_TIMEOUT_MS),
    });
    return { kind: "response", status: response.status, headers: response.headers, text: await response.text() };
  } catch (error) {
    // The timeout can fire while the body is still streaming, so it is classified here for both phases.
    const name = error instanceof Error ? error.name : "";
    const kind = name === "TimeoutError" || name === "AbortError" ? "timeout" : "network";
    return { kind: "failed", failure: failure(kind, {}) };
  }
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded. */
export function encodeBasicCredentials(clientId: string, clientSecret: string): string {
  const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  const bytes = new TextEncoder().encode(`${encode(clientId)}:${encode(clientSecret)}`);
  return btoa(String.fromCharCode(...bytes));
}

/** `Retry-After` as seconds from `now`: delta-seconds or an HTTP date (RFC 9110 §10.2.3); `null` otherwise. */
export function parseRetryAfter(value: string | null, now: Date = new Date()): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, Math.ceil((date - now.getTime()) / 1000));
}

function errorFailure(status: number, headers: Headers, text: string): TokenFailure {
  const retryAfterSeconds = parseRetryAfter(headers.get("Retry-After"));
  const body = parseJsonObject(text);
  if (body && typeof body.error === "string" && body.error !== "") {
    const description = typeof body.error_description === "string" ? body.error_description : null;
    return failure("oauth_error", { status, error: body.error, description, retryAfterSeconds });
  }
  return failure("http_error", { status, retryAfterSeconds });
}

function failure(kind: TokenFailure["kind"], fields: Partial<Omit<TokenFailure, "kind">>): TokenFailure {
  return { kind, status: null, error: null, description: null, retryAfterSeconds: null, ...fields };
}

function parseJsonObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function tokenSet(body: Record<string, unknown>): TokenSet | null {
  const { access_token: accessToken, refresh_token: refreshToken, expires_in: expiresIn, scope, id_token: idToken } = body;
  if (typeof accessToken !== "string" || accessToken === "") return null;
  const expiresInSeconds = parseExpiresIn(expiresIn);
  if (expiresInSeconds === undefined) return null;
  return {
    accessToken,
    refreshToken: typeof refreshToken === "string" && refreshToken !== "" ? refreshToken : null,
    expiresIn: expiresInSeconds,
    scope: typeof scope === "string" ? scope : null,
    idToken: typeof idToken === "string" && idToken !== "" ? idToken : null,
    body,
  };
}

/** A number or a numeric string (some servers quote it); `null` when absent; `undefined` when unusable. */
function parseExpiresIn(value: unknown): number | null | undefined {
  if (value === undefined || value === null) return null;
  const seconds = typeof value === "string" && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  return typeof seconds === "number" && Number.isFinite(seconds) && seconds >= 0 ? Math.floor(seconds) : undefined;
}
