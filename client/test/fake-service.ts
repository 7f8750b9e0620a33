/**
 * The service as the client's unit tests script it: each request gets the next scripted answer, and every request is
 * kept (method, path, headers, JSON body) for the test to read. Only for what the service under `wrangler dev` cannot
 * be made to answer on demand (e2e/07-client.e2e.ts covers the real one).
 */
import { createConnectionManagerClient, type ConnectionManagerClient } from "../src/index.js";

export const BASE_URL = "https://connect.example.test";

export interface SentRequest {
  method: string;
  path: string;
  authorization: string | null;
  body: unknown;
}

export interface FakeService {
  client: ConnectionManagerClient;
  sent: SentRequest[];
}

/** A problem+json answer as the service sends it. */
export function problem(
  status: number,
  name: string,
  headers: Record<string, string> = {},
  extensions: Record<string, unknown> = {},
): Response {
  return new Response(
    JSON.stringify({
      type: `urn:connection-manager:problem:${name}`,
      title: `Title of ${name}`,
      status,
      detail: `Detail of ${name}`,
      request_id: "req-1",
      ...extensions,
    }),
    { status, headers: { "Content-Type": "application/problem+json", ...headers } },
  );
}

export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

/** A vend's `200`, its access token `token`. */
export function vended(token: string): Response {
  return json(200, { access_token: token, token_type: "Bearer", expires_at: null, scopes: ["api:read"] });
}

/** A client whose requests get `answers` in order; a request beyond them fails the test. */
export function fakeService(answers: Response[], options: { maxRetryWaitSeconds?: number } = {}): FakeService {
  const sent: SentRequest[] = [];
  const queue = [...answers];
  let calls = 0;
  const client = createConnectionManagerClient({
    baseUrl: BASE_URL,
    callerToken: () => `jwt-${++calls}`,
    ...options,
    fetch: async (request) => {
      const text = await request.text();
      sent.push({
        method: request.method,
        path: new URL(request.url).pathname,
        authorization: request.headers.get("authorization"),
        body: text === "" ? undefined : JSON.parse(text),
      });
      const answer = queue.shift();
      if (!answer) throw new Error(`unscripted request ${request.method} ${request.url}`);
      return answer;
    },
  });
  return { client, sent };
}
