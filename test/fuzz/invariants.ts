/**
 * The invariants every fuzzed request is held to, and the generators the fuzz files share.
 *
 * - No 5xx, whatever the input.
 * - Every 4xx is RFC 9457 `application/problem+json` with `type`, `title`, `status` (the HTTP status) and `detail`.
 * - No secret comes back: not the caller JWT's signature, not `AUTH_JWT_SECRET`, not the key ring, not a marker the
 *   test planted in the input.
 * - A refused request changes no state: the connection, consent and activation rows and the `authz:` KV keys are
 *   as they were (audit events for refusals are expected, so the audit table is not compared).
 */
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { expect } from "vitest";
import { TEST_ENCRYPTION_KEYS, TEST_JWT_SECRET } from "../support/bindings";
import { callWorker } from "../support/worker";

/** Bounded so the whole fuzz suite stays well under a minute on two cores; fast-check prints the seed on failure. */
export const RUNS = { light: 40, normal: 100 } as const;

/** Per-test time limit for a property (vitest's default of 20 s is for example-based tests). */
export const PROPERTY_TIMEOUT_MS = 60_000;

/** Key ring material: the base64 keys as configured, and the same bytes base64url-encoded. */
const KEY_MATERIAL = TEST_ENCRYPTION_KEYS.split(",").flatMap((entry) => {
  const key = entry.slice(entry.indexOf(":") + 1);
  return [key, key.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")];
});

/** Secrets that no answer may contain, whatever was asked. */
export const SERVICE_SECRETS: readonly string[] = [TEST_JWT_SECRET, ...KEY_MATERIAL];

/** A value that looks like a credential and is unique per run, so an echo of it is unmistakable. */
export const secretMarker: fc.Arbitrary<string> = fc.stringMatching(/^[A-Za-z0-9]{12}$/).map((random) => `sk_live_FUZZ${random}`);

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** Reads the response once, so the checks can look at it as text. */
export async function answerOf(response: Response): Promise<Answer> {
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** No 5xx; a 4xx is problem+json whose members match the HTTP status. */
export function expectNoServerErrorAndProblemRefusals(answer: Answer, method = "GET"): void {
  expect(answer.status, `a 5xx leaked: ${answer.text.slice(0, 300)}`).toBeLessThan(500);
  if (answer.status < 400) return;
  expect(answer.headers.get("Content-Type")).toBe("application/problem+json");
  if (method === "HEAD") return;
  const body = JSON.parse(answer.text) as Record<string, unknown>;
  expect(body.type).toMatch(/^urn:connection-manager:problem:[a-z-]+$/);
  expect(typeof body.title).toBe("string");
  expect(body.status).toBe(answer.status);
  expect(typeof body.detail).toBe("string");
}

/** Neither the body nor any header of the answer contains one of `secrets` (or a service secret). */
export function expectNoSecretEchoed(answer: Answer, secrets: readonly string[]): void {
  const headers = [...answer.headers].map(([name, value]) => `${name}: ${value}`).join("\n");
  for (const secret of [...SERVICE_SECRETS, ...secrets]) {
    if (secret.length < 8) continue; // too short to be told apart from ordinary text
    expect(answer.text.includes(secret), `the body echoes a secret: ${secret.slice(0, 24)}`).toBe(false);
    expect(headers.includes(secret), `a header echoes a secret: ${secret.slice(0, 24)}`).toBe(false);
  }
}

/** The stored state a refused request must leave alone, in one D1 query and one KV listing. */
export interface StateSnapshot {
  connections: number;
  consents: number;
  activations: number;
  /** Every connection's id, status and version: a refused request must not touch a row's tokens either. */
  connectionRows: string;
  /** Every activation, with its connection and update time: a refusal must not upsert one either. */
  activationRows: string;
  authorizationKeys: string;
}

export async function snapshotState(): Promise<StateSnapshot> {
  const counts = await env.DB.prepare(
    `SELECT (SELECT COUNT(*) FROM connections) AS connections,
            (SELECT COUNT(*) FROM consents) AS consents,
            (SELECT COUNT(*) FROM integration_activations) AS activations,
            (SELECT group_concat(id || ':' || status || ':' || version, ',') FROM (SELECT id, status, version FROM connections ORDER BY id)) AS rows,
            (SELECT group_concat(user_id || ':' || integration || ':' || coalesce(connection_id, '-') || ':' || updated_at, ',')
               FROM (SELECT * FROM integration_activations ORDER BY user_id, integration)) AS activation_rows`,
  ).first<{ connections: number; consents: number; activations: number; rows: string | null; activation_rows: string | null }>();
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.AUTH_STATE.list({ prefix: "authz:", ...(cursor ? { cursor } : {}) });
    keys.push(...page.keys.map((key) => key.name));
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return {
    connections: counts?.connections ?? 0,
    consents: counts?.consents ?? 0,
    activations: counts?.activations ?? 0,
    connectionRows: counts?.rows ?? "",
    activationRows: counts?.activation_rows ?? "",
    authorizationKeys: keys.sort().join(","),
  };
}

/** What changed between two snapshots, short enough to read in a failure message. */
export function stateChanges(before: StateSnapshot, after: StateSnapshot): string[] {
  const changes: string[] = [];
  for (const name of ["connections", "consents", "activations"] as const) {
    if (before[name] !== after[name]) changes.push(`${name}: ${before[name]} -> ${after[name]}`);
  }
  if (before.connectionRows !== after.connectionRows) {
    const old = new Set(before.connectionRows.split(","));
    const now = new Set(after.connectionRows.split(","));
    changes.push(
      `connection rows: -[${[...old].filter((row) => !now.has(row)).join(" ")}] +[${[...now].filter((row) => !old.has(row)).join(" ")}]`,
    );
  }
  if (before.activationRows !== after.activationRows) changes.push("integration activations changed");
  if (before.authorizationKeys !== after.authorizationKeys) changes.push("authz: keys in KV changed");
  return changes;
}

export interface HostileRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | undefined;
  /** Values planted in the input that must never come back. */
  secrets: readonly string[];
}

/**
 * Sends `request` and checks every invariant; returns the answer for request-specific checks.
 * A refusal (4xx) must leave `snapshotState()` unchanged.
 */
export async function expectInvariants(request: HostileRequest): Promise<Answer> {
  const before = await snapshotState();
  // The fetch API itself refuses a body on GET and HEAD (in any letter case), so none is sent there.
  const hasBody = request.body !== undefined && !["GET", "HEAD"].includes(request.method.toUpperCase());
  const answer = await answerOf(
    await callWorker(request.path, { method: request.method, headers: request.headers, ...(hasBody ? { body: request.body } : {}) }),
  );
  const context = `${request.method} ${request.path.slice(0, 200)} -> ${answer.status} ${answer.text.slice(0, 400)}`;
  try {
    expectNoServerErrorAndProblemRefusals(answer, request.method);
    expectNoSecretEchoed(answer, request.secrets);
    if (isRefusalOfInput(answer)) expect(stateChanges(before, await snapshotState()), "a refused request changed state").toEqual([]);
  } catch (error) {
    throw new Error(`${context}\n${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return answer;
}

/**
 * Problems that report what the provider said during a refresh, not a refusal of the input: marking a connection
 * needs_reauth (or recording a transient failure) before answering them is the designed behaviour.
 */
const PROVIDER_OUTCOMES = new Set(["needs-reauth", "service-unavailable", "provider-rejected-client"]);

/** A 4xx that refused the request itself, after which nothing may have changed. */
export function isRefusalOfInput(answer: Answer): boolean {
  if (answer.status < 400) return false;
  const type = answer.text.startsWith("{") ? String((JSON.parse(answer.text) as { type?: unknown }).type ?? "") : "";
  return !PROVIDER_OUTCOMES.has(type.replace("urn:connection-manager:problem:", ""));
}

/** The signature segment of a compact JWS: what lets a holder replay the token. */
export function signatureOf(jwt: string): string {
  return jwt.split(".")[2] ?? "";
}

// ---- shared generators ----

/** Strings with the characters parsers trip on: controls, NUL, quotes, slashes, RTL marks, astral code points. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom(
      "\u0000",
      "\u0007",
      "\n",
      "\r",
      "\t",
      "\u007f",
      "\u202e",
      "\u200b",
      "\ufeff",
      "\ud83d\ude00",
      "\\",
      '"',
      "'",
      "<",
      ">",
      "&",
      "%",
      "/",
      "..",
      "$",
      "{",
      "}",
    ),
    maxLength: 30,
  }),
  fc.constantFrom(
    "",
    " ",
    "null",
    "undefined",
    "NaN",
    "-1",
    "0",
    "1e309",
    "__proto__",
    "constructor",
    "../../etc/passwd",
    "%00",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
  ),
);

/** JSON values of every type, nested a little. */
export const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  nastyString,
  fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308),
);

/**
 * Wrong types, out-of-range values and nasty strings for one body field; `secret`, when given, is planted among them.
 * Scope fields get no secret: scopes are names the service deliberately repeats (`missing_scopes`, `invalid_scopes`).
 */
export function hostileField(secret?: string): fc.Arbitrary<unknown> {
  const text = secret === undefined ? nastyString : fc.oneof(nastyString, fc.constant(secret));
  return fc.oneof(anyJson, text, fc.array(text, { maxLength: 60 }), fc.dictionary(nastyString, anyJson, { maxKeys: 4 }));
}

/** `?name=value&…`, each part percent-encoded, so that any generated string reaches the Worker as that string. */
export function queryString(params: readonly (readonly [string, string])[]): string {
  if (params.length === 0) return "";
  return `?${params.map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`).join("&")}`;
}
