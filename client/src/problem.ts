/**
 * The service answers every error as RFC 9457 `application/problem+json` (docs/http-api.md, "Errors"); the client
 * throws each one as a `ProblemError` whose `type` is the problem's short name.
 */
import { retryAfterSeconds } from "./retry-after.js";

/** Every problem name the service answers with (`PROBLEMS` in the service's src/errors.ts). */
export const PROBLEM_TYPES = [
  "bad-request",
  "invalid-state",
  "scope-not-allowed",
  "return-to-not-allowed",
  "opener-origin-not-allowed",
  "unknown-offer",
  "authorization-failed",
  "unauthorized",
  "forbidden",
  "scope-not-granted",
  "insufficient-scope",
  "not-found",
  "method-not-allowed",
  "provider-not-configured",
  "needs-reauth",
  "payload-too-large",
  "unsupported-media-type",
  "rate-limited",
  "internal",
  "provider-rejected-client",
  "exchange-failed",
  "invalid-id-token",
  "identity-failed",
  "issuer-mismatch",
  "service-unavailable",
] as const;

/**
 * A problem's short name: one of the service's, or, for an answer that is not one of its problems (a proxy's error
 * page), `http-{status}`.
 */
export type ProblemType = (typeof PROBLEM_TYPES)[number] | `http-${number}`;

const TYPE_PREFIX = "urn:connection-manager:problem:";

/** An error answer of the service. */
export class ProblemError extends Error {
  override name = "ProblemError";
  readonly type: ProblemType;
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  /** The service's request id (`X-Request-Id`): quote it when reporting a problem. */
  readonly requestId: string | undefined;
  /** When the service asks to come back later (`Retry-After`, RFC 9110 §10.2.3), in seconds from now. */
  readonly retryAfterSeconds: number | undefined;
  /** The whole problem, extension members included (`missing_scopes`, `required_scope`, `invalid_params`, …). */
  readonly body: Readonly<Record<string, unknown>>;

  constructor(init: {
    type: ProblemType;
    status: number;
    title: string;
    detail?: string;
    requestId?: string;
    retryAfterSeconds?: number;
    body?: Record<string, unknown>;
  }) {
    super(init.detail === undefined ? `${init.status} ${init.type}: ${init.title}` : `${init.status} ${init.type}: ${init.detail}`);
    this.type = init.type;
    this.status = init.status;
    this.title = init.title;
    this.detail = init.detail;
    this.requestId = init.requestId;
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.body = init.body ?? {};
  }
}

/** Whether `error` is the service's problem of `type`. */
export function isProblem(error: unknown, type: ProblemType): error is ProblemError {
  return error instanceof ProblemError && error.type === type;
}

function stringMember(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  return typeof value === "string" ? value : undefined;
}

/**
 * The error for a non-2xx `response` whose body was read as `body` (parsed JSON, text, or nothing). `now` (epoch
 * milliseconds) turns an HTTP-date `Retry-After` into seconds.
 */
export function problemFromResponse(response: Response, body: unknown, now: number): ProblemError {
  const problem = typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const typeUri = stringMember(problem, "type");
  const ours = typeUri?.startsWith(TYPE_PREFIX) ? typeUri.slice(TYPE_PREFIX.length) : undefined;
  const type: ProblemType = (PROBLEM_TYPES as readonly string[]).includes(ours ?? "") ? (ours as ProblemType) : `http-${response.status}`;
  const detail = stringMember(problem, "detail");
  const requestId = stringMember(problem, "request_id") ?? response.headers.get("x-request-id") ?? undefined;
  const retryAfter = retryAfterSeconds(response.headers.get("retry-after"), now);
  return new ProblemError({
    type,
    status: response.status,
    title: stringMember(problem, "title") ?? (response.statusText || "The service answered with an error"),
    ...(detail === undefined ? {} : { detail }),
    ...(requestId === undefined ? {} : { requestId }),
    ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
    body: problem,
  });
}

/** What an openapi-fetch call resolves with (`client.api.GET(…)` and the like). */
export interface ApiAnswer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/**
 * The answer's `data`, or its error thrown as a `ProblemError`: `const { connections } = await
 * unwrap(client.api.GET("/v1/connections"))`.
 */
export async function unwrap<T>(answer: ApiAnswer<T> | Promise<ApiAnswer<T>>): Promise<T> {
  const { data, error, response } = await answer;
  if (response.ok) return data as T;
  throw problemFromResponse(response, error, Date.now());
}
