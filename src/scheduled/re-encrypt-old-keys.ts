import type { TokenCipher } from "../crypto/token-cipher";
import type { ReEncryptResult } from "../refresh/re-encrypt";
import { userVault } from "../refresh/user-vault";
import { insertAuditEvents } from "../storage/audit-events";
import { findConnectionsUnderOldKeys } from "../storage/connections";
import type { Database } from "../storage/database";
import { mapBounded } from "./bounded";
import { CRON_CONCURRENCY, CRON_PAGE_SIZE, MAX_RE_ENCRYPTIONS_PER_RUN } from "./limits";

export type ReEncryptSummary = Record<ReEncryptResult, number>;

/**
 * Key rotation: moves connections still under an older key to the current one, in bounded batches, each through
 * the user's Durable Object so it cannot race a refresh into writing back a stale refresh token.
 */
export async function reEncryptOldKeys(env: Env, db: Database, cipher: TokenCipher, now: number): Promise<ReEncryptSummary> {
  const summary: ReEncryptSummary = { re_encrypted: 0, current: 0, not_found: 0, conflict: 0, undecryptable: 0 };
  let afterId: string | null = null;
  let processed = 0;
  while (processed < MAX_RE_ENCRYPTIONS_PER_RUN) {
    const page = await findConnectionsUnderOldKeys(db, {
      currentKeyId: cipher.currentKeyId,
      afterId,
      limit: Math.min(CRON_PAGE_SIZE, MAX_RE_ENCRYPTIONS_PER_RUN - processed),
    });
    if (page.length === 0) break;
    processed += page.length;
    const results = await mapBounded(page, CRON_CONCURRENCY, (row) => userVault(env, row.userId).reEncrypt(row.userId, row.id));
    for (const result of results) summary[result]++;
    afterId = page[page.length - 1]!.id;
  }
  if (processed > 0) {
    await insertAuditEvents(db, [
      {
        at: now,
        userId: null,
        actor: "cron",
        action: "keys.re_encrypted",
        provider: null,
        connectionId: null,
        outcome: summary.undecryptable === 0 ? "success" : "failure",
        requestId: null,
        ip: null,
        detail: { ...summary, key_id: cipher.currentKeyId },
      },
    ]);
  }
  return summary;
}
