/**
 * The consumer of `vault-jobs`: refreshes or re-encrypts each job's connection through its user's Durable Object,
 * several at once, and settles each message by the outcome: acknowledged when done or when retrying cannot help,
 * retried when the provider failed transiently (after the connection's cooldown) or the call threw. A duplicate or
 * late job is harmless: the object finds the token fresh, or the row already under the current key.
 */
import { CRON_ORIGIN } from "../audit/audit-sink";
import { createServices, type Services } from "../services";
import type { ReEncryptResult } from "../vault/re-encryption";
import type { RefreshResult } from "../vault/refresh";
import { userVault } from "../vault/user-vault";
import { mapBounded } from "./bounded";
import { JOB_CONCURRENCY, MAX_RETRY_DELAY_SECONDS } from "./limits";
import { VAULT_QUEUES, vaultJobSchema, type VaultJob } from "./messages";

/** How the queue is to settle a message: done, or delivered again (after `delaySeconds`, else the consumer's `retry_delay`). */
type Settlement = { kind: "ack" } | { kind: "retry"; delaySeconds?: number };

const ACK: Settlement = { kind: "ack" };

export type RefreshOutcome = "refreshed" | "fresh" | "transient" | "reauth" | "operator" | "not_found";

/** What a refresh job's result means for its message. */
function settleRefresh(result: RefreshResult): { outcome: RefreshOutcome; settlement: Settlement } {
  switch (result.kind) {
    case "token":
      return { outcome: result.refreshed ? "refreshed" : "fresh", settlement: ACK };
    case "unavailable":
      // Retried once the connection's cooldown is over (the provider's Retry-After included); until then the
      // object would answer from the cooldown without calling the provider, and the scan passes the row by.
      return {
        outcome: "transient",
        settlement: { kind: "retry", delaySeconds: Math.min(result.retryAfterSeconds, MAX_RETRY_DELAY_SECONDS) },
      };
    // Permanent as far as a retry goes: the row is `needs_reauth` until the user reconnects, an operator error's
    // cooldown keeps the scan away until it ends, and a removed connection has nothing to refresh.
    case "needs_reauth":
      return { outcome: "reauth", settlement: ACK };
    case "operator_error":
      return { outcome: "operator", settlement: ACK };
    case "not_found":
      return { outcome: "not_found", settlement: ACK };
  }
}

/** What one batch did, logged as one JSON line; never a token. */
interface BatchSummary {
  refresh: Record<RefreshOutcome | "error", number>;
  re_encrypt: Record<ReEncryptResult | "error", number>;
  retried: number;
  unreadable: number;
}

function emptySummary(): BatchSummary {
  return {
    refresh: { refreshed: 0, fresh: 0, transient: 0, reauth: 0, operator: 0, not_found: 0, error: 0 },
    re_encrypt: { re_encrypted: 0, current: 0, not_found: 0, conflict: 0, undecryptable: 0, error: 0 },
    retried: 0,
    unreadable: 0,
  };
}

export async function consumeVaultJobs(batch: MessageBatch, env: Env): Promise<void> {
  const started = Date.now();
  const services = createServices(env, CRON_ORIGIN);
  const summary = emptySummary();
  await mapBounded(batch.messages, JOB_CONCURRENCY, async (message) => {
    const settlement = await runMessage(services, message, summary);
    if (settlement.kind === "ack") {
      message.ack();
      return;
    }
    summary.retried++;
    if (settlement.delaySeconds === undefined) message.retry();
    else message.retry({ delaySeconds: settlement.delaySeconds });
  });
  recordReEncryptions(services, summary.re_encrypt);
  await services.audit.flush();
  console.log(JSON.stringify({ message: `queue.${VAULT_QUEUES.jobs}`, jobs: batch.messages.length, ...summary, ms: Date.now() - started }));
}

async function runMessage(services: Services, message: Message, summary: BatchSummary): Promise<Settlement> {
  const parsed = vaultJobSchema.safeParse(message.body);
  if (!parsed.success) {
    // Only this Worker writes the queue; a body it cannot read will not read better on a retry.
    summary.unreadable++;
    console.error(JSON.stringify({ message: "vault job unreadable; dropped", queue: VAULT_QUEUES.jobs, id: message.id }));
    return ACK;
  }
  const job = parsed.data;
  try {
    return await runJob(services, job, summary);
  } catch (error) {
    summary[job.kind].error++;
    console.error(
      JSON.stringify({
        message: "vault job failed; retried",
        job: job.kind,
        connectionId: job.connectionId,
        attempts: message.attempts,
        // Only the name: an error's text may quote what was sent.
        error: error instanceof Error ? error.name : "unknown",
      }),
    );
    return { kind: "retry" };
  }
}

async function runJob(services: Services, job: VaultJob, summary: BatchSummary): Promise<Settlement> {
  const vault = userVault(services.env, job.userId);
  switch (job.kind) {
    case "refresh": {
      const result = await vault.refresh({
        userId: job.userId,
        connectionId: job.connectionId,
        trigger: "cron",
        minValiditySeconds: services.config.refreshLookaheadSeconds,
        requestedAt: services.clock(),
      });
      const { outcome, settlement } = settleRefresh(result);
      summary.refresh[outcome]++;
      return settlement;
    }
    case "re_encrypt":
      summary.re_encrypt[await vault.reEncrypt(job.userId, job.connectionId)]++;
      // Every result is final: a row no key decrypts is skipped by the scan for a while (the object records the
      // backoff), and a conflict means another writer stored tokens under the current key meanwhile.
      return ACK;
  }
}

/** One audit event per batch that re-encrypted, as key-rotation progress (GET /v1/admin/keys shows what remains). */
function recordReEncryptions(services: Services, counts: BatchSummary["re_encrypt"]): void {
  if (Object.values(counts).every((count) => count === 0)) return;
  services.audit.record({
    action: "keys.re_encrypted",
    outcome: counts.undecryptable === 0 && counts.error === 0 ? "success" : "failure",
    detail: { ...counts, key_id: services.cipher.currentKeyId },
  });
}
