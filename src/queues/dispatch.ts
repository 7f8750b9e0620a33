/**
 * The Worker's queue handler: one consumer per queue, chosen by the name of the queue a batch comes from
 * (./messages.ts `VAULT_QUEUES`, src/audit/audit-queue.ts and src/webhooks/queue-messages.ts `WEBHOOK_QUEUES`, as
 * wrangler.jsonc declares them).
 */
import { AUDIT_EVENTS_QUEUE, consumeAuditEvents, consumeDeadAuditEvents, DEAD_AUDIT_EVENTS_QUEUE } from "../audit/audit-queue";
import { recordDeadDeliveries } from "../webhooks/dead-deliveries";
import { consumeWebhookDeliveries } from "../webhooks/delivery";
import { WEBHOOK_QUEUES } from "../webhooks/queue-messages";
import { recordDeadLetters } from "./dead-letters";
import { VAULT_QUEUES } from "./messages";
import { consumeScanPages } from "./scan-pages";
import { consumeVaultJobs } from "./vault-jobs";

export async function consumeQueueBatch(batch: MessageBatch, env: Env, ctx: ExecutionContext): Promise<void> {
  switch (batch.queue) {
    case AUDIT_EVENTS_QUEUE:
      return consumeAuditEvents(batch, env, ctx);
    case DEAD_AUDIT_EVENTS_QUEUE:
      return consumeDeadAuditEvents(batch, env, ctx);
    case VAULT_QUEUES.scans:
      return consumeScanPages(batch, env);
    case VAULT_QUEUES.jobs:
      return consumeVaultJobs(batch, env);
    case VAULT_QUEUES.deadLetters:
      return recordDeadLetters(batch, env);
    case WEBHOOK_QUEUES.deliveries:
      return consumeWebhookDeliveries(batch, env);
    case WEBHOOK_QUEUES.deadLetters:
      return recordDeadDeliveries(batch, env);
    default:
      // A consumer configured in wrangler.jsonc without a case here: the batch is retried (and then dead-lettered or
      // dropped by the platform) rather than acknowledged unread.
      console.error(JSON.stringify({ message: "no consumer for this queue", queue: batch.queue, messages: batch.messages.length }));
      throw new Error(`no consumer for queue ${batch.queue}`);
  }
}
