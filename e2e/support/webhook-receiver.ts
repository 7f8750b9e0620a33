/**
 * A webhook receiver as an application runs one, on 127.0.0.1 in the test process (Node): it verifies every request
 * with the verifier it is given (the `standardwebhooks` library's `Webhook`, or the typed client's `WebhookVerifier`
 * that wraps it), accepts each `webhook-id` once (a repeat is answered 204 and not accepted
 * again), and can be taken down, answering 500 to everything, as a receiver in an outage does. Tests wait for what
 * it received by events, not by polling.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** An event the receiver accepted: verified, and the first time its `webhook-id` came. */
export interface AcceptedEvent {
  id: string;
  type: string;
  data: { user_id: string | null; connection?: { id: string; status: string }; reason?: string };
}

/** One request: its `webhook-id` and the status the receiver answered. */
export interface Attempt {
  id: string;
  status: number;
}

/** What checks a delivery: `Webhook` of `standardwebhooks` and the client's `WebhookVerifier` both fit. */
export interface DeliveryVerifier {
  /** The parsed event when the signature holds; throws otherwise. */
  verify(body: string, headers: Record<string, string>): unknown;
}

const WAIT_LIMIT_MS = 80_000;

export class WebhookReceiver {
  readonly accepted: AcceptedEvent[] = [];
  readonly attempts: Attempt[] = [];
  #verifier: DeliveryVerifier | null = null;
  #down = false;
  readonly #listeners = new Set<() => void>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | undefined;
    const server = createServer((request, response) => void receiver!.handle(request, response));
    receiver = new WebhookReceiver(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
  }

  /** Verifies with `verifier` from now on (made with the `whsec_…` the subscription answered). */
  verifyWith(verifier: DeliveryVerifier): void {
    this.#verifier = verifier;
  }

  /** Answers 500 to every request until `recover`. */
  goDown(): void {
    this.#down = true;
  }

  recover(): void {
    this.#down = false;
  }

  /** Resolves with what `read` finds once it finds something (checked after each request); fails after 80 s. */
  until<T>(what: string, read: () => T | undefined): Promise<T> {
    const found = read();
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        reject(new Error(`the receiver did not get ${what} within ${WAIT_LIMIT_MS} ms`));
      }, WAIT_LIMIT_MS);
      const check = () => {
        const value = read();
        if (value === undefined) return;
        clearTimeout(timer);
        this.#listeners.delete(check);
        resolve(value);
      };
      this.#listeners.add(check);
    });
  }

  /** The accepted events about `userId`, in order of arrival. */
  eventsOf(userId: string): AcceptedEvent[] {
    return this.accepted.filter((event) => event.data.user_id === userId);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
    const id = headers["webhook-id"] ?? "";
    const status = this.answer(id, body, headers);
    this.attempts.push({ id, status });
    response.writeHead(status).end();
    for (const listener of [...this.#listeners]) listener();
  }

  private answer(id: string, body: string, headers: Record<string, string>): number {
    if (this.#down) return 500;
    let event: Omit<AcceptedEvent, "id">;
    try {
      if (!this.#verifier) return 500;
      event = this.#verifier.verify(body, headers) as Omit<AcceptedEvent, "id">;
    } catch {
      return 400;
    }
    if (!this.accepted.some((accepted) => accepted.id === id)) this.accepted.push({ id, type: event.type, data: event.data });
    return 204;
  }
}
