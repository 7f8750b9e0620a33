/**
 * A `Request` sent over node:http on a TCP connection of its own (Node only): the bench's transport for the cookie
 * browser and the API client. No keep-alive pool (the global `fetch` reuses connections across callers): each of the
 * bench's 200 concurrent browsers and 500 concurrent callers is a separate client, as separate browsers and backends
 * are. Every host is loopback: `localhost` is dialled as 127.0.0.1, where `wrangler dev` listens (no lookup that may
 * try ::1 first), while the URL, the Host header and the cookie origin keep the name the service and the provider use.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";

const TIMEOUT_MS = 120_000;
/** Statuses whose response has no body (Fetch standard, "null body status"). */
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

export async function sendOverNodeHttp(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
  const headers: Record<string, string> = { host: url.host };
  request.headers.forEach((value, name) => {
    headers[name] = value;
  });
  if (body !== undefined) headers["content-length"] = String(body.length);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: url.hostname === "localhost" ? "127.0.0.1" : url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: request.method,
        headers,
        agent: false,
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
        incoming.on("end", () => resolve(toResponse(incoming, Buffer.concat(chunks))));
        incoming.on("error", reject);
      },
    );
    outgoing.setTimeout(TIMEOUT_MS, () =>
      outgoing.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s: ${request.method} ${url.origin}${url.pathname}`)),
    );
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

function toResponse(incoming: IncomingMessage, body: Buffer): Response {
  const headers = new Headers();
  // Raw pairs keep every Set-Cookie header apart (`getSetCookie()`).
  for (let index = 0; index + 1 < incoming.rawHeaders.length; index += 2)
    headers.append(incoming.rawHeaders[index]!, incoming.rawHeaders[index + 1]!);
  const status = incoming.statusCode ?? 0;
  return new Response(NULL_BODY_STATUSES.has(status) ? null : body, { status, statusText: incoming.statusMessage ?? "", headers });
}
