import { CRON_ORIGIN } from "../audit/audit-sink";
import { enqueueScanPage, VAULT_QUEUES } from "../queues/messages";
import { createServices, type Services } from "../services";
import { pruneAuditEvents, pruneDeliveryLog } from "./prune-audit";

/**
 * Each task runs with services of its own, writes its own audit events and logs its own outcome, so one failing
 * cannot cancel another.
 */
async function task(env: Env, name: string, run: (services: Services) => Promise<Record<string, unknown> | number>): Promise<void> {
  const started = Date.now();
  try {
    const services = createServices(env, CRON_ORIGIN);
    try {
      const result = await run(services);
      console.log(
        JSON.stringify({ message: `cron.${name}`, ...(typeof result === "number" ? { count: result } : result), ms: Date.now() - started }),
      );
    } finally {
      await services.audit.flush();
    }
  } catch (error) {
    console.error(
      JSON.stringify({ message: `cron.${name} failed`, error: error instanceof Error ? error.name : "unknown", ms: Date.now() - started }),
    );
  }
}

/**
 * The cron trigger: starts the proactive-refresh scan and the key-rotation re-encryption scans of connections and of
 * webhook secrets by queueing the first page of each (src/queues/ reads the pages and does the work, however many
 * rows there are), and deletes audit events and webhook delivery attempts past their retention.
 */
export async function runScheduledTasks(env: Env, scheduledTime: number): Promise<void> {
  const now = scheduledTime;
  await task(env, "refresh", async (services) => {
    await enqueueScanPage(env, { kind: "refresh", now, lookaheadSeconds: services.config.refreshLookaheadSeconds, after: null });
    return { queued: VAULT_QUEUES.scans };
  });
  await task(env, "re_encrypt", async () => {
    await enqueueScanPage(env, { kind: "re_encrypt", now, afterId: null });
    return { queued: VAULT_QUEUES.scans };
  });
  await task(env, "re_encrypt_webhooks", async () => {
    await enqueueScanPage(env, { kind: "re_encrypt_webhooks", now, afterId: null });
    return { queued: VAULT_QUEUES.scans };
  });
  await task(env, "prune_audit", (services) => pruneAuditEvents(services.db, { now, retentionDays: services.config.auditRetentionDays }));
  // The delivery log is an audit trail of what receivers were sent: kept as long.
  await task(env, "prune_webhook_deliveries", (services) =>
    pruneDeliveryLog(services.db, { now, retentionDays: services.config.auditRetentionDays }),
  );
}
