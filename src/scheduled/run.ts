import { getConfig } from "../config";
import { getTokenCipher } from "../crypto/token-cipher";
import { database } from "../storage/database";
import { pruneAuditEvents } from "./prune-audit";
import { reEncryptOldKeys } from "./re-encrypt-old-keys";
import { refreshExpiringConnections, refreshThroughVault } from "./refresh-expiring";

/** Each task runs on its own and logs its own outcome, so one failing cannot cancel another. */
async function task(name: string, run: () => Promise<Record<string, unknown> | number>): Promise<void> {
  const started = Date.now();
  try {
    const result = await run();
    console.log(
      JSON.stringify({ message: `cron.${name}`, ...(typeof result === "number" ? { count: result } : result), ms: Date.now() - started }),
    );
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
  const config = getConfig(env);
  const db = database(env.DB);
  const now = scheduledTime;
  const lookaheadSeconds = config.refreshLookaheadSeconds;
  await task("refresh", async () => ({
    ...(await refreshExpiringConnections(db, refreshThroughVault(env, lookaheadSeconds, now), { now, lookaheadSeconds })),
  }));
  await task("re_encrypt", async () => ({ ...(await reEncryptOldKeys(env, db, getTokenCipher(config.encryptionKeys), now)) }));
  await task("prune_audit", () => pruneAuditEvents(db, { now, retentionDays: config.auditRetentionDays }));
}
