import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ConfigError } from "./config";

/** Every problem this service answers with; the key is the stable end of the RFC 9457 `type`. */
export const PROBLEMS = {
  "bad-request": { status: 400, title: "The request is malformed" },
  "invalid-state": { status: 400, title: "The authorization state is unknown, expired, replayed or not bound to this browser" },
  "scope-not-allowed": { status: 400, title: "A requested scope is not allowed for this provider" },
  "return-to-not-allowed": { status: 400, title: "return_to is not an allowed origin" },
  "opener-origin-not-allowed": { status: 400, title: "opener_origin is not one of CORS_ORIGINS or RETURN_TO_ORIGINS" },
  "unknown-offer": { status: 400, title: "A connect session offers an integration or provider that does not exist" },
  "authorization-failed": { status: 400, title: "The provider refused the authorization" },
  unauthorized: { status: 401, title: "A valid bearer token is required" },
  forbidden: { status: 403, title: "The caller lacks the power for this operation" },
  "scope-not-granted": { status: 403, title: "The provider granted fewer scopes than requested" },
  "insufficient-scope": { status: 403, title: "The connection lacks scopes the caller requires" },
  "not-found": { status: 404, title: "Not found" },
  "method-not-allowed": { status: 405, title: "Method not allowed" },
  "provider-not-configured": { status: 409, title: "The provider is not configured on this service" },
  "needs-reauth": { status: 409, title: "The connection needs the user to authorize again" },
  "payload-too-large": { status: 413, title: "The request body is larger than 64 KiB" },
  "unsupported-media-type": { status: 415, title: "The request body must be application/json" },
  "rate-limited": { status: 429, title: "Too many requests" },
  internal: { status: 500, title: "Internal error" },
  "provider-rejected-client": { status: 502, title: "The provider refused this service's client credentials" },
  "exchange-failed": { status: 502, title: "The authorization code could not be exchanged at the provider" },
  "invalid-id-token": { status: 502, title: "The provider's id_token failed verification" },
  "identity-failed": { status: 502, title: "The provider account could not be identified" },
  "issuer-mismatch": { status: 400, title: "The authorization response came from another issuer (RFC 9207)" },
  "service-unavailable": { status: 503, title: "Service temporarily unavailable" },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string }>;

export type ProblemType = keyof typeof PROBLEMS;

const TYPE_BASE = "urn:connection-manager:problem:";

export function problemTypeUri(type: ProblemType): string {
  return `${TYPE_BASE}${type}`;
}

/** Extension members must not shadow the RFC 9457 members. */
type Extensions = Record<string, unknown> & { type?: never; title?: never; status?: never; detail?: never };

/** A known failure with a stable problem type; `detail` is for humans and never holds a secret. */
export class ProblemError extends Error {
  override name = "ProblemError";
  readonly type: ProblemType;
  readonly status: ContentfulStatusCode;
  readonly detail: string;
  readonly extensions: Extensions;
  readonly headers: Record<string, string>;

  constructor(type: ProblemType, detail?: string, options: { extensions?: Extensions; headers?: Record<string, string> } = {}) {
    super(detail ?? PROBLEMS[type].title);
    this.type = type;
    this.status = PROBLEMS[type].status;
    this.detail = detail ?? PROBLEMS[type].title;
    this.extensions = options.extensions ?? {};
    this.headers = options.headers ?? {};
  }
}

/** The RFC 9457 body of a problem. */
export function problemBody(problem: ProblemError, instance?: string): Record<string, unknown> {
  return {
    ...problem.extensions,
    type: problemTypeUri(problem.type),
    title: PROBLEMS[problem.type].title,
    status: problem.status,
    detail: problem.detail,
    ...(instance ? { instance } : {}),
  };
}

export function problemResponse(problem: ProblemError, requestId?: string): Response {
  const headers = new Headers(problem.headers);
  headers.set("Content-Type", "application/problem+json");
  headers.set("Cache-Control", "no-store");
  if (problem.status === 401 && !headers.has("WWW-Authenticate")) headers.set("WWW-Authenticate", 'Bearer realm="connection-manager"');
  const body = problemBody(problem);
  if (requestId) body.request_id = requestId;
  // Responses built here bypass the context's prepared headers (not-found, 405), so the id is set again.
  if (requestId) headers.set("X-Request-Id", requestId);
  return new Response(JSON.stringify(body), { status: problem.status, headers });
}

/**
 * The one error exit: known problems as they are, anything else a 500 that reveals nothing. Hono hands `onError`
 * only `Error`s (anything else thrown is rethrown by its dispatcher), hence the parameter's type.
 */
export function asProblem(error: Error): ProblemError {
  if (error instanceof ProblemError) return error;
  if (error instanceof HTTPException && error.status === 400) return new ProblemError("bad-request", "The body is not valid JSON.");
  // hono/csrf's refusal of a form post from another site (the hosted pages' routers).
  if (error instanceof HTTPException && error.status === 403)
    return new ProblemError("forbidden", "The form was not sent from this service's pages.");
  if (error instanceof HTTPException && error.status === 413) return new ProblemError("payload-too-large");
  // @hono/zod-openapi's own media-type gate: a non-JSON Content-Type on a JSON route, even without a body.
  if (error instanceof HTTPException && error.status === 415) return new ProblemError("unsupported-media-type");
  if (error instanceof ConfigError) {
    // Names the variable, never its value: safe for the operator's log, not for the caller.
    console.error(JSON.stringify({ message: error.message }));
    return new ProblemError("internal", "The service is misconfigured.");
  }
  // Messages of unknown errors can carry query parameters; log where it failed, not what it held.
  console.error(JSON.stringify({ message: "unhandled error", error: error.name, stack: error.stack?.split("\n").slice(1, 6).join(" | ") }));
  return new ProblemError("internal", "Something went wrong on our side. Quote the request_id when reporting it.");
}
