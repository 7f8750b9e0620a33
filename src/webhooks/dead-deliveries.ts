/**
 * The consumer of `webhook-deliveries-dlq`: events and deliveries that failed every attempt the queue allows, which
 * happens only when the consumer itself kept failing (D1 unreachable for hours): a delivery is recorded as abandoned,
 * and each is logged by its ids (never its body). Nothing is retried from here.
 */
import { randomId } from "../crypto/random";
import { database } from "../storage/database";
import { recordWebhookDelivery } from "../storage/webhook-deliveries";
import { DELIVERY_MAX_RETRIES, WEBHOOK_QUEUES, webhookMessageSchema } from "./queue-messages";

export async function recordDeadDeliveries(batch: MessageBatch, env: Env): Promise<void> {
  const db = database(env.DB);
  for (const message of batch.messages) {
    const parsed = webhookMessageSchema.safeParse(message.body);
    const dead = parsed.success ? parsed.data : null;
    console.error(
      JSON.stringify({
        message: "webhook message dead-lettered",
        queue: WEBHOOK_QUEUES.deadLetters,
        kind: dead?.kind ?? "unreadable",
        eventId: dead?.eventId ?? null,
        type: dead?.type ?? null,
        endpointId: dead?.kind === "delivery" ? dead.endpointId : null,
      }),
    );
    if (dead?.kind !== "delivery") continue;
    try {
      await recordWebhookDelivery(db, {
        id: randomId("whd_"),
        endpointId: dead.endpointId,
        eventId: dead.eventId,
        eventType: dead.type,
        // Its attempts in the queue it died in: the dead-letter queue delivers it afresh and counts again.
        attempt: DELIVERY_MAX_RETRIES + 1,
        status: "abandoned",
        responseStatus: null,
        error: null,
        at: Date.now(),
        nextAttemptAt: null,
      });
    } catch (error) {
      // The log line above is the record then.
      console.error(
        JSON.stringify({
          message: "dead webhook delivery not recorded",
          eventId: dead.eventId,
          error: error instanceof Error ? error.name : "unknown",
        }),
      );
    }
  }
  batch.ackAll();
}
