/**
 * The upstream side of `npm run bench`, in its own process so its CPU use does not distort the load generator:
 *
 * - a mock Google token endpoint (`POST /google/token`, refresh grant) that answers after `BENCH_UPSTREAM_LATENCY_MS`
 *   (100 ms), the way the real one answers (HTTP Basic client authentication, form body, JSON token response without
 *   a new refresh token), and counts every call per refresh token;
 * - the project's local `oidc-provider` (test/support/oidc-server.ts) with the bench Worker's redirect URI.
 *
 * The test suite's mock (test/support/mock-providers.ts) only honours refresh tokens it issued itself in an
 * authorization flow; 5,000 seeded connections would need 5,000 flows first, so the bench answers refresh grants of
 * any `rt-…` token here and keeps the counts it needs (calls per token, calls in flight).
 *
 * Prints one line `BENCH_SERVERS {"mockOrigin","oidcIssuer"}` once both listen.
 * Control: `GET /__stats?prefix=rt-x-` -> {calls, distinct, repeated, max_in_flight, tokens_repeated: [..10]};
 *          `POST /__reset_peak` resets `max_in_flight`.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { startOidcServer } from "../test/support/oidc-server";

const LATENCY_MS = Number(process.env.BENCH_UPSTREAM_LATENCY_MS ?? 100);
const CLIENT_ID = "google-client-id.apps.googleusercontent.com";
const CLIENT_SECRET = "google-client-secret";
const redirectUri = process.env.BENCH_REDIRECT_URI;
if (!redirectUri) throw new Error("BENCH_REDIRECT_URI is required");

const calls = new Map<string, number>();
let inFlight = 0;
let maxInFlight = 0;
let issued = 0;

const expectedBasic = `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString("base64")}`;

function json(res: import("node:http").ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res
    .writeHead(status, { "content-type": "application/json", "cache-control": "no-store", "content-length": Buffer.byteLength(text) })
    .end(text);
}

const mock = createServer(async (req, res) => {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks).toString("utf8");

  if (url.pathname === "/__stats") {
    const prefix = url.searchParams.get("prefix") ?? "";
    let total = 0;
    let distinct = 0;
    const repeated: string[] = [];
    for (const [token, count] of calls) {
      if (!token.startsWith(prefix)) continue;
      total += count;
      distinct += 1;
      if (count > 1) repeated.push(token);
    }
    return json(res, 200, {
      calls: total,
      distinct,
      repeated: repeated.length,
      tokens_repeated: repeated.slice(0, 10),
      max_in_flight: maxInFlight,
    });
  }
  if (url.pathname === "/__reset_peak" && req.method === "POST") {
    maxInFlight = inFlight;
    return json(res, 200, { max_in_flight: maxInFlight });
  }
  if (url.pathname !== "/google/token" || req.method !== "POST") return json(res, 404, { error: "not_found" });

  if (req.headers.authorization !== expectedBasic)
    return json(res, 401, { error: "invalid_client", error_description: "The OAuth client was not found." });
  const fields = new URLSearchParams(body);
  const refreshToken = fields.get("refresh_token") ?? "";
  if (fields.get("grant_type") !== "refresh_token" || !refreshToken.startsWith("rt-")) {
    return json(res, 400, { error: "invalid_grant", error_description: "Bad Request" });
  }
  calls.set(refreshToken, (calls.get(refreshToken) ?? 0) + 1);
  inFlight += 1;
  maxInFlight = Math.max(maxInFlight, inFlight);
  await new Promise((resolve) => setTimeout(resolve, LATENCY_MS));
  inFlight -= 1;
  issued += 1;
  json(res, 200, {
    access_token: `ya29.bench-${issued}-${refreshToken.slice(3, 40)}`,
    expires_in: 3599,
    scope: "openid https://www.googleapis.com/auth/userinfo.email",
    token_type: "Bearer",
  });
});
mock.keepAliveTimeout = 30_000;
await new Promise<void>((resolve) => mock.listen(0, "127.0.0.1", resolve));
const mockOrigin = `http://127.0.0.1:${(mock.address() as AddressInfo).port}`;

const oidc = await startOidcServer({ redirectUris: [redirectUri] });

console.log(`BENCH_SERVERS ${JSON.stringify({ mockOrigin, oidcIssuer: oidc.issuer })}`);

const shutdown = () => {
  mock.closeAllConnections();
  mock.close();
  void oidc.close().finally(() => process.exit(0));
};
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
