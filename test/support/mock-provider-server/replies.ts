/** Writing responses, and each provider's documented error bodies (reference/providers.md). */
import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { MockProviderKind } from "./clients";
import type { MockBehaviour } from "./state";

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", ...headers });
  res.end(JSON.stringify(body));
}

export function sendText(
  res: ServerResponse,
  status: number,
  body: string,
  contentType = "text/plain",
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "Content-Type": `${contentType}; charset=utf-8`, ...headers });
  res.end(body);
}

export function redirect(res: ServerResponse, location: URL): void {
  res.writeHead(302, { Location: location.toString() });
  res.end();
}

/** Microsoft's AADSTS codes for the errors the mock produces. */
const MICROSOFT_CODES: Record<string, { code: number; text: string }> = {
  invalid_grant: { code: 70008, text: "The provided authorization code or refresh token has expired due to inactivity." },
  invalid_client: { code: 7000215, text: "Invalid client secret provided." },
  invalid_request: { code: 900144, text: "The request body must contain the following parameter: 'grant_type'." },
  unauthorized_client: { code: 700016, text: "Application was not found in the directory." },
  temporarily_unavailable: { code: 90055, text: "The tenant is throttled." },
  code_reused: { code: 54005, text: "OAuth2 Authorization code was already redeemed." },
  pkce_mismatch: { code: 501481, text: "The Code_Verifier does not match the code_challenge supplied in the authorization request." },
  wrong_tenant: { code: 700005, text: "Provided Authorization Code is intended to use against other tenant." },
  redirect_mismatch: { code: 50011, text: "The redirect URI specified in the request does not match." },
};

const DEFAULT_STATUS: Record<string, number> = { invalid_client: 401, temporarily_unavailable: 503 };

/**
 * An OAuth error as `provider` words it. `variant` picks Microsoft's more specific AADSTS code
 * (`code_reused`, `pkce_mismatch`, …) for an `invalid_grant`/`invalid_request`.
 */
export function sendOAuthError(
  res: ServerResponse,
  provider: MockProviderKind,
  error: string,
  options: { status?: number; description?: string; variant?: string; headers?: Record<string, string> } = {},
): void {
  const status = options.status ?? DEFAULT_STATUS[error] ?? 400;
  const headers = { ...options.headers, ...(error === "invalid_client" ? { "WWW-Authenticate": 'Basic realm="mock"' } : {}) };
  switch (provider) {
    case "microsoft": {
      const aadsts = MICROSOFT_CODES[options.variant ?? error] ?? { code: 90000, text: options.description ?? error };
      const traceId = randomUUID();
      sendJson(
        res,
        status,
        {
          error,
          error_description: `AADSTS${aadsts.code}: ${aadsts.text} Trace ID: ${traceId} Correlation ID: ${randomUUID()} Timestamp: ${new Date().toISOString()}`,
          error_codes: [aadsts.code],
          timestamp: new Date()
            .toISOString()
            .replace("T", " ")
            .replace(/\.\d+Z$/, "Z"),
          trace_id: traceId,
          correlation_id: randomUUID(),
          error_uri: `https://login.microsoftonline.com/error?code=${aadsts.code}`,
        },
        headers,
      );
      return;
    }
    case "notion":
      sendJson(res, status, error === "invalid_client" ? { error, request_id: randomUUID() } : { error }, headers);
      return;
    default: {
      const description =
        options.description ?? (error === "invalid_grant" ? "Bad Request" : error === "invalid_client" ? "Unauthorized" : error);
      sendJson(res, status, { error, error_description: description }, headers);
    }
  }
}

/**
 * Answers a scripted failure and returns true, or returns false when the request should proceed normally
 * (no failure, or a `delay` that has elapsed).
 */
export async function applyBehaviour(
  res: ServerResponse,
  provider: MockProviderKind,
  behaviour: MockBehaviour | undefined,
  wait: (ms: number) => Promise<boolean>,
): Promise<boolean> {
  const failure = behaviour?.failure;
  if (!behaviour || !failure) return false;
  const retryAfter = behaviour.retry_after ?? (failure === "rate_limited" ? "30" : undefined);
  const headers: Record<string, string> = retryAfter === undefined ? {} : { "Retry-After": retryAfter };
  switch (failure) {
    case "delay":
      // `wait` resolves false when the client gave up first; there is nobody left to answer.
      return !(await wait(behaviour.delay_ms ?? 15_000));
    case "drop":
      res.socket?.destroy();
      return true;
    case "malformed_json":
      sendText(res, behaviour.status ?? 200, '{"access_token": "ya29.trunc', "application/json", headers);
      return true;
    case "missing_access_token":
      sendJson(res, behaviour.status ?? 200, { token_type: "Bearer", expires_in: 3599 }, headers);
      return true;
    case "server_error_html":
      sendText(
        res,
        behaviour.status ?? 500,
        "<!DOCTYPE html><html><body><h1>Error 500 (Server Error)</h1></body></html>",
        "text/html",
        headers,
      );
      return true;
    case "rate_limited":
      if (provider === "notion") {
        const body = { object: "error", status: 429, code: "rate_limited", message: "Rate limited", request_id: randomUUID() };
        sendJson(res, behaviour.status ?? 429, body, headers);
      } else {
        sendText(res, behaviour.status ?? 429, "Too Many Requests", "text/plain", headers);
      }
      return true;
    default:
      sendOAuthError(res, provider, failure, { ...(behaviour.status ? { status: behaviour.status } : {}), headers });
      return true;
  }
}
