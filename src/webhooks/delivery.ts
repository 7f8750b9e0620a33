/**
 * The consumer of `webhook-deliveries`: fans each published event out into one delivery per subscribed endpoint
 * (./fan-out.ts), and makes each delivery's attempt: signed afresh (receivers refuse a timestamp older than 5 minutes),
 * POSTed with a 10 s timeout and without following redirects, its response body never read. A 2xx is delivered; a
 * `410` disables the endpoint; anything else is retried on the schedule of ./retry-schedule.ts through the message's
 * own `retry({ delaySeconds })`, so one message carries one (event, endpoint) from its first attempt to its last and
 * the platform counts the attempts. Every attempt is recorded in the delivery log, never a body.
 */
import { CRON_ORIGIN } from "../audit/audit-sink";
import { randomId } from "../crypto/random";
import { mapBounded } from "../queues/bounded";
import { JOB_CONCURRENCY } from "../queues/limits";
import { createServices, type Services } from "../services";
import { findWebhookEndpoint, updateWebhookEndpoint, type WebhookEndpointRow } from "../storage/webhook-endpoints";
import { recordWebhookDelivery, type WebhookDeliveryRow } from "../storage/webhook-deliveries";
import { activeSigningSecrets } from "./endpoints";
import { fanOut } from "./fan-out";
import { WEBHOOK_QUEUES, webhookMessageSchema, type PendingDelivery } from "./queue-messages";
import { nextAttempt, retryDelaySeconds } from "./retry-schedule";
import { signatureHeaders } from "./signature";

/** A receiver has this long to answer with a 2xx (docs/http-api.md, "Events (webhooks)"). */
export const DELIVERY_TIMEOUT_MS = 10_000;

/** Writes of an endpoint disabled by a `410` before giving up: each retry means another writer changed it meanwhile. */
const MAX_DISABLE_ATTEMPTS = 3;

/**
 * Why an attempt failed, as the delivery log records it: a class, never the receiver's text.
 * `endpoint_disabled`: no attempt was made, the endpoint is disabled; `secret_unavailable`: its secret does not decrypt.
 */
export type DeliveryError = "timeout" | "network" | "http_status" | "redirect" | "secret_unavailable" | "endpoint_disabled";

type Outcome = { kind: "delivered"; status: number } | { kind: "gone" } | { kind: "failed"; error: DeliveryError; status: number | null };

/** How the queue is to settle a message: done, or delivered again after `delaySeconds`. */
type Settlement = { kind: "ack" } | { kind: "retry"; delaySeconds: number };

const ACK: Settlement = { kind: "ack" };

export interface DeliveryOptions {
  /** The receiver's time to answer; a test seam, `DELIVERY_TIMEOUT_MS` in the Worker. */
  timeoutMs: number;
}

type BatchSummary = Record<"events" | "fanned_out" | WebhookDeliveryRow["status"] | "retried" | "dropped" | "unreadable", number>;

export async function consumeWebhookDeliveries(
  batch: MessageBatch,
  env: Env,
  options: DeliveryOptions = { timeoutMs: DELIVERY_TIMEOUT_MS },
): Promise<void> {
  const started = Date.now();
  const services = createServices(env, CRON_ORIGIN);
  const summary: BatchSummary = {
    events: 0,
    fanned_out: 0,
    delivered: 0,
    failed: 0,
    abandoned: 0,
    disabled: 0,
    retried: 0,
    dropped: 0,
    unreadable: 0,
  };
  // As many at once as an invocation keeps connections open (src/queues/limits.ts): each attempt may wait 10 s.
  await mapBounded(batch.messages, JOB_CONCURRENCY, async (message) => {
    const settlement = await settle(services, message, summary, options);
    if (settlement.kind === "ack") {
      message.ack();
    } else {
      summary.retried++;
      message.retry({ delaySeconds: settlement.delaySeconds });
    }
  });
  await services.audit.flush();
  console.log(
    JSON.stringify({
      message: `queue.${WEBHOOK_QUEUES.deliveries}`,
      messages: batch.messages.length,
      ...summary,
      ms: Date.now() - started,
    }),
  );
}

async function settle(services: Services, message: Message, summary: BatchSummary, options: DeliveryOptions): Promise<Settlement> {
  const parsed = webhookMessageSchema.safeParse(message.body);
  if (!parsed.success) {
    // Only this Worker writes the queue; a body it cannot read will not read better on a retry.
    summary.unreadable++;
    console.error(JSON.stringify({ message: "webhook message unreadable; dropped", queue: WEBHOOK_QUEUES.deliveries, id: message.id }));
    return ACK;
  }
  const body = parsed.data;
  if (body.kind === "event") {
    summary.events++;
    try {
      summary.fanned_out += await fanOut(services, body);
      return ACK;
    } catch (error) {
      // Retried after the consumer's `retry_delay`: deliveries it already queued may then be queued twice, which
      // receivers deduplicate by `webhook-id`.
      logFailure("webhook event not fanned out; retried", body.eventId, message.attempts, error);
      return { kind: "retry", delaySeconds: retryDelaySeconds(message.attempts) };
    }
  }
  try {
    return await deliver(services, body, message.attempts, summary, options);
  } catch (error) {
    // The endpoint could not be read (D1), so no attempt was made. Retried on the schedule, which still ends 24 h
    // after the event.
    logFailure("webhook delivery failed before its attempt; retried", body.eventId, message.attempts, error);
    const next = nextAttempt(message.attempts, body.occurredAt, services.clock());
    if (next.kind === "abandon") {
      summary.dropped++;
      return ACK;
    }
    return { kind: "retry", delaySeconds: next.delaySeconds };
  }
}

/** One attempt of one delivery, recorded, and what the queue is to do with its message. */
async function deliver(
  services: Services,
  delivery: PendingDelivery,
  attempt: number,
  summary: BatchSummary,
  options: DeliveryOptions,
): Promise<Settlement> {
  const endpoint = await findWebhookEndpoint(services.db, delivery.endpointId);
  if (!endpoint) {
    // Unsubscribed since: nothing to deliver to, and no log to keep for it.
    summary.dropped++;
    return ACK;
  }
  /** Records the attempt; a failed write is logged, and the attempt's outcome still settles the message. */
  const record = async (fields: Pick<WebhookDeliveryRow, "status" | "responseStatus" | "error" | "nextAttemptAt">, at: number) => {
    summary[fields.status]++;
    try {
      await recordWebhookDelivery(services.db, {
        id: randomId("whd_"),
        endpointId: endpoint.id,
        eventId: delivery.eventId,
        eventType: delivery.type,
        attempt,
        at,
        ...fields,
      });
    } catch (error) {
      logFailure("webhook delivery attempt not recorded", delivery.eventId, attempt, error);
    }
  };

  // A disabled endpoint gets nothing until it is enabled again (`PATCH`), except the test event sent to it by name.
  if (!endpoint.enabled && !delivery.targeted) {
    await record({ status: "disabled", responseStatus: null, error: "endpoint_disabled", nextAttemptAt: null }, services.clock());
    return ACK;
  }

  const outcome = await attemptDelivery(services, endpoint, delivery, options);
  const now = services.clock();
  switch (outcome.kind) {
    case "delivered":
      await record({ status: "delivered", responseStatus: outcome.status, error: null, nextAttemptAt: null }, now);
      return ACK;
    case "gone":
      // RFC 9110 §15.5.11: the resource is gone for good. The endpoint stops receiving until an operator enables it.
      await disableGoneEndpoint(services, endpoint, now).catch((error: unknown) =>
        // Enabled still: its next delivery meets the 410 again and disables it then.
        logFailure("webhook endpoint that answered 410 not disabled", delivery.eventId, attempt, error),
      );
      await record({ status: "disabled", responseStatus: 410, error: "http_status", nextAttemptAt: null }, now);
      return ACK;
    case "failed": {
      const next = nextAttempt(attempt, delivery.occurredAt, now);
      const failure = { responseStatus: outcome.status, error: outcome.error };
      if (next.kind === "abandon") {
        await record({ status: "abandoned", ...failure, nextAttemptAt: null }, now);
        return ACK;
      }
      await record({ status: "failed", ...failure, nextAttemptAt: next.at }, now);
      return { kind: "retry", delaySeconds: next.delaySeconds };
    }
  }
}

/** Signs and POSTs the delivery's body once; the outcome is a class, never the receiver's text. */
async function attemptDelivery(
  services: Services,
  endpoint: WebhookEndpointRow,
  delivery: PendingDelivery,
  options: DeliveryOptions,
): Promise<Outcome> {
  const now = services.clock();
  let secrets: string[];
  try {
    secrets = await activeSigningSecrets(services, endpoint, now);
  } catch {
    // Logged where it is found; an operator's secret rotation gives the endpoint a secret that signs again.
    return { kind: "failed", error: "secret_unavailable", status: null };
  }
  const headers = await signatureHeaders({ id: delivery.eventId, timestamp: Math.floor(now / 1000), body: delivery.body }, secrets);
  let response: Response;
  try {
    response = await fetch(endpoint.url, {
      method: "POST",
      headers: { ...headers, "Content-Type": "application/json" },
      body: delivery.body,
      // A redirect is a failure: following it would send the signed event to an address nobody subscribed.
      redirect: "manual",
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    return { kind: "failed", error: name === "TimeoutError" || name === "AbortError" ? "timeout" : "network", status: null };
  }
  // Never read, never stored: only its status counts. Cancelling frees the connection at once.
  await response.body?.cancel();
  if (response.status >= 200 && response.status < 300) return { kind: "delivered", status: response.status };
  if (response.status === 410) return { kind: "gone" };
  if (response.status >= 300 && response.status < 400) return { kind: "failed", error: "redirect", status: response.status };
  return { kind: "failed", error: "http_status", status: response.status };
}

/**
 * Disables an endpoint that answered `410`, unless it changed meanwhile in a way that makes the answer moot: another
 * URL (the `410` was about the old one) or already disabled. A compare-and-swap, as every endpoint write is.
 */
async function disableGoneEndpoint(services: Services, answered: WebhookEndpointRow, now: number): Promise<void> {
  let endpoint: WebhookEndpointRow | null = answered;
  for (let write = 0; write < MAX_DISABLE_ATTEMPTS && endpoint; write++) {
    if (!endpoint.enabled || endpoint.url !== answered.url) return;
    const update = { enabled: false, disabledReason: "gone", updatedAt: now };
    if (await updateWebhookEndpoint(services.db, { id: endpoint.id, expectedVersion: endpoint.version }, update)) {
      services.audit.record({
        action: "webhook.disabled",
        outcome: "success",
        detail: { endpoint_id: endpoint.id, reason: "gone", status: 410 },
      });
      console.warn(JSON.stringify({ message: "webhook endpoint answered 410 and was disabled", endpointId: endpoint.id }));
      return;
    }
    endpoint = await findWebhookEndpoint(services.db, answered.id);
  }
}

/** Only the error's name: a message may quote what was sent or received. */
function logFailure(message: string, eventId: string, attempts: number, error: unknown): void {
  console.error(JSON.stringify({ message, eventId, attempts, error: error instanceof Error ? error.name : "unknown" }));
}
