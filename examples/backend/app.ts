/**
 * An application's backend, as small as it can be while doing what every backend does with the connection manager,
 * through its typed client (@connection-manager/client):
 *
 *   GET  /connect?user=<id>   creates a connect session for the user and redirects the browser to the connect page,
 *                             whose Done button comes back to /profile
 *   GET  /profile?user=<id>   calls the provider's userinfo endpoint with the user's token (withToken: a 401 there is
 *                             reported with rejected_token and retried once)
 *   POST /webhooks            receives the service's events, verified with WebhookVerifier, each webhook-id once
 *
 * `?user=` stands in for the user your application's own session knows. Started without a webhook secret, it
 * subscribes itself through the admin API and removes the subscription when it stops (an operator's task in a real
 * deployment: README, "Events (webhooks)").
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  createConnectionManagerClient,
  isProblem,
  unwrap,
  WebhookVerificationError,
  WebhookVerifier,
  type ConnectionManagerClient,
  type WebhookEvent,
} from "@connection-manager/client";
import { signCallerJwt, type CallerJwtSettings } from "./caller-jwt";

export interface ExampleBackendOptions {
  /** The connection manager's origin, e.g. `http://localhost:8787`. */
  serviceUrl: string;
  jwt: CallerJwtSettings;
  /** The provider whose API `/profile` calls, and its issuer (whose discovery names the userinfo endpoint). */
  provider: string;
  providerIssuer: string;
  /** The port on 127.0.0.1 (0: any free one). */
  port: number;
  /**
   * The origin the user's browser knows this backend by, one of the service's RETURN_TO_ORIGINS: the connect page's
   * Done button leads to `/profile` there.
   */
  appOrigin: string;
  /** The subscription's `whsec_…`; without it, the backend subscribes itself and unsubscribes on `close`. */
  webhookSecret?: string;
  log?: (line: string) => void;
}

export interface ExampleBackend {
  /** `http://127.0.0.1:{port}`. */
  url: string;
  /** The events received and verified, each once, in order of arrival. */
  received: WebhookEvent[];
  close(): Promise<void>;
}

/** A failure this backend answers its caller with, as JSON. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.error));
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json" }).end(`${JSON.stringify(body, null, 2)}\n`);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function userOf(url: URL): string {
  const user = url.searchParams.get("user");
  if (!user) throw new HttpError(400, { error: "add ?user=<id>: the user your application's session knows" });
  return user;
}

export async function startExampleBackend(options: ExampleBackendOptions): Promise<ExampleBackend> {
  const log = options.log ?? ((line: string) => console.log(line));
  /** The client for one user: every call carries a JWT signed for that user with `scope`. */
  const clientFor = (userId: string, scope: string): ConnectionManagerClient =>
    createConnectionManagerClient({ baseUrl: options.serviceUrl, callerToken: () => signCallerJwt(options.jwt, userId, scope) });
  const operator = clientFor("example-backend", "admin");

  let userinfoEndpoint: Promise<string> | undefined;
  const userinfo = () =>
    (userinfoEndpoint ??= fetch(`${options.providerIssuer}/.well-known/openid-configuration`)
      .then((response) => response.json() as Promise<{ userinfo_endpoint: string }>)
      .then((discovery) => discovery.userinfo_endpoint)
      .catch((error: unknown) => {
        userinfoEndpoint = undefined;
        throw error;
      }));

  async function connect(url: URL, res: ServerResponse): Promise<void> {
    const userId = userOf(url);
    const session = await clientFor(userId, "connections:token").createConnectSession({
      providers: [options.provider],
      return_to: `${options.appOrigin}/profile?user=${encodeURIComponent(userId)}`,
      end_user: { display_name: userId },
    });
    log(`connect link for ${userId}, valid until ${session.expires_at}`);
    res.writeHead(303, { Location: session.connect_url }).end();
  }

  async function profile(url: URL, res: ServerResponse): Promise<void> {
    const userId = userOf(url);
    const client = clientFor(userId, "connections:token");
    const { connections } = await unwrap(client.api.GET("/v1/connections"));
    const connection = connections.find((candidate) => candidate.provider === options.provider && candidate.status === "active");
    if (!connection)
      throw new HttpError(404, { error: `${userId} has no active ${options.provider} connection`, connect: `/connect?user=${userId}` });
    const endpoint = await userinfo();
    const answer = await client.withToken(connection.id, (token) => fetch(endpoint, { headers: { Authorization: `Bearer ${token}` } }));
    if (!answer.ok) throw new HttpError(502, { error: `the provider answered ${answer.status}` });
    log(`called ${options.provider} userinfo for ${userId} (${connection.id})`);
    sendJson(res, 200, { connection: connection.id, account: connection.account, userinfo: await answer.json() });
  }

  let verifier: WebhookVerifier | undefined;
  const seen = new Set<string>();
  const received: WebhookEvent[] = [];

  async function webhook(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req); // the exact bytes: re-serialized JSON would not verify
    let event: WebhookEvent;
    try {
      if (!verifier) throw new WebhookVerificationError("not subscribed yet");
      event = verifier.verify(body, req.headers);
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      log(`webhook refused: ${error.message}`);
      res.writeHead(400).end();
      return;
    }
    // Delivery is at least once: a retry of an event already handled is acknowledged and skipped.
    if (!seen.has(event.id)) {
      seen.add(event.id);
      received.push(event);
      log(`webhook ${event.type} user=${event.data.user_id ?? "-"} connection=${event.data.connection?.id ?? "-"} (verified)`);
    }
    res.writeHead(204).end();
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const route = `${req.method} ${url.pathname}`;
    try {
      if (route === "GET /connect") return await connect(url, res);
      if (route === "GET /profile") return await profile(url, res);
      if (route === "POST /webhooks") return await webhook(req, res);
      if (route === "GET /") return sendJson(res, 200, { try: ["/connect?user=user-1", "/profile?user=user-1"] });
      sendJson(res, 404, { error: "not found" });
    } catch (error) {
      if (error instanceof HttpError) return sendJson(res, error.status, error.body);
      if (isProblem(error, "needs-reauth"))
        return sendJson(res, 409, { error: "connect again", connect: `/connect?user=${url.searchParams.get("user")}` });
      log(`${route} failed: ${String(error)}`);
      sendJson(res, 500, { error: String(error) });
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let subscriptionId: string | undefined;
  if (options.webhookSecret) {
    verifier = new WebhookVerifier(options.webhookSecret);
  } else {
    const subscription = await unwrap(
      operator.api.POST("/v1/admin/webhooks", { body: { url: `${url}/webhooks`, description: "examples/backend, removed when it stops" } }),
    );
    subscriptionId = subscription.id;
    verifier = new WebhookVerifier(subscription.secret);
    log(`subscribed ${url}/webhooks to every event (${subscription.id})`);
  }

  let closed: Promise<void> | undefined;
  return {
    url,
    received,
    close: () =>
      (closed ??= (async () => {
        if (subscriptionId) {
          await unwrap(operator.api.DELETE("/v1/admin/webhooks/{id}", { params: { path: { id: subscriptionId } } }));
          log(`unsubscribed ${subscriptionId}`);
        }
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })()),
  };
}
