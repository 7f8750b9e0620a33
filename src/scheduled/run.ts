import { createServices, type Services } from "../services";
import { pruneAuditEvents } from "./prune-audit";
import { reEncryptOldKeys } from "./re-encrypt-old-keys";
import { refreshExpiringConnections, refreshThroughVault } from "./refresh-expiring";

/**
 * Each task runs with services of its own, writes its own audit events and logs its own outcome, so one failing
 * cannot cancel another.
 */
async function task(env: Env, name: string, run: (services: Services) => Promise<Record<string, unknown> | number>): Promise<void> {
  const started = Date.now();
  try {
    const services = createServices(env, { requestId: null, ip: null, userId: null, actor: "cron" });
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
 * The cron trigger: proactive refresh, key-rotation re-encryption, audit retention. The tasks run one after the
 * other so their outgoing connections together stay within the per-invocation bound.
 */
export async function runScheduledTasks(env: Env, scheduledTime: number): Promise<void> {
  const now = scheduledTime;
  await task(env, "refresh", async (services) => {
    const lookaheadSeconds = services.config.refreshLookaheadSeconds;
    return {
      ...(await refreshExpiringConnections(services.db, refreshThroughVault(env, lookaheadSeconds, now), { now, lookaheadSeconds })),
    };
  });
  await task(env, "re_encrypt", async (services) => ({ ...(await reEncryptOldKeys(services, now)) }));
  await task(env, "prune_audit", (services) => pruneAuditEvents(services.db, { now, retentionDays: services.config.auditRetentionDays }));
}
