import type { Services } from "../services";
import { findConnectionsToReEncrypt } from "../storage/connections";
import type { ReEncryptResult } from "../vault/re-encryption";
import { userVault } from "../vault/user-vault";
import { mapBounded } from "./bounded";
import { CRON_CONCURRENCY, CRON_PAGE_SIZE, MAX_RE_ENCRYPTIONS_PER_RUN } from "./limits";

export type ReEncryptSummary = Record<ReEncryptResult, number>;

/**
 * Key rotation: moves connections (and write-ahead copies) still under an older key to the current one, in bounded
 * batches, each through the user's Durable Object so it cannot race a refresh into writing back a stale refresh
 * token. Rows whose re-encryption failed lately are skipped (see vault/re-encryption.ts).
 */
export async function reEncryptOldKeys(services: Services, now: number): Promise<ReEncryptSummary> {
  const summary: ReEncryptSummary = { re_encrypted: 0, current: 0, not_found: 0, conflict: 0, undecryptable: 0 };
  const currentKeyId = services.cipher.currentKeyId;
  let afterId: string | null = null;
  let processed = 0;
  while (processed < MAX_RE_ENCRYPTIONS_PER_RUN) {
    const page = await findConnectionsToReEncrypt(services.db, {
      currentKeyId,
      now,
      afterId,
      limit: Math.min(CRON_PAGE_SIZE, MAX_RE_ENCRYPTIONS_PER_RUN - processed),
    });
    if (page.length === 0) break;
    processed += page.length;
    const results = await mapBounded(page, CRON_CONCURRENCY, (row) => userVault(services.env, row.userId).reEncrypt(row.userId, row.id));
    for (const result of results) summary[result]++;
    afterId = page[page.length - 1]!.id;
  }
  if (processed > 0) {
    services.audit.record({
      action: "keys.re_encrypted",
      outcome: summary.undecryptable === 0 ? "success" : "failure",
      detail: { ...summary, key_id: currentKeyId },
    });
  }
  return summary;
}
