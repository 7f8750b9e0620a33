import type { RefreshResult } from "../vault/refresh";
import { userVault } from "../vault/user-vault";
import { findExpiringConnections } from "../storage/connections";
import type { Database } from "../storage/database";
import { mapBounded } from "./bounded";
import { CRON_CONCURRENCY, CRON_PAGE_SIZE, MAX_REFRESHES_PER_RUN } from "./limits";

export interface RefreshTarget {
  userId: string;
  connectionId: string;
}

/**
 * Refreshes one target. The cron calls the user's Durable Object directly; a Queue consumer could call the same
 * function for messages fanned out by the cron, without changing the refresh logic.
 */
export type RefreshOne = (target: RefreshTarget) => Promise<RefreshResult>;

export function refreshThroughVault(env: Env, lookaheadSeconds: number, now: number): RefreshOne {
  return ({ userId, connectionId }) =>
    userVault(env, userId).refresh({ userId, connectionId, trigger: "cron", minValiditySeconds: lookaheadSeconds, requestedAt: now });
}

export interface RefreshSummary {
  scanned: number;
  refreshed: number;
  /** Already fresh when its turn came (a vend refreshed it first). */
  unchanged: number;
  skipped: number;
  failed: { transient: number; reauth: number; operator: number; error: number };
}

/** Tallies a batch; one failure never stops the others. */
export async function refreshBatch(targets: readonly RefreshTarget[], refreshOne: RefreshOne, summary: RefreshSummary): Promise<void> {
  await mapBounded(targets, CRON_CONCURRENCY, async (target) => {
    let result: RefreshResult;
    try {
      result = await refreshOne(target);
    } catch (error) {
      summary.failed.error++;
      console.error(
        JSON.stringify({
          message: "cron refresh threw",
          connectionId: target.connectionId,
          error: error instanceof Error ? error.name : "unknown",
        }),
      );
      return;
    }
    switch (result.kind) {
      case "token":
        if (result.refreshed) summary.refreshed++;
        else summary.unchanged++;
        return;
      case "unavailable":
        summary.failed.transient++;
        return;
      case "needs_reauth":
        summary.failed.reauth++;
        return;
      case "operator_error":
        summary.failed.operator++;
        return;
      case "not_found":
        summary.skipped++;
        return;
    }
  });
}

/** Finds active connections expiring within the look-ahead window, page by page, and refreshes them. */
export async function refreshExpiringConnections(
  db: Database,
  refreshOne: RefreshOne,
  window: { now: number; lookaheadSeconds: number },
): Promise<RefreshSummary> {
  const summary: RefreshSummary = {
    scanned: 0,
    refreshed: 0,
    unchanged: 0,
    skipped: 0,
    failed: { transient: 0, reauth: 0, operator: 0, error: 0 },
  };
  let after: { expiresAt: number; id: string } | null = null;
  // A refresh moves the row's expiry forward; a provider issuing tokens shorter than the look-ahead would put it
  // back ahead of the cursor, and without this the same run would refresh it again, page after page.
  const visited = new Set<string>();
  while (summary.scanned < MAX_REFRESHES_PER_RUN) {
    const page = await findExpiringConnections(db, {
      now: window.now,
      expiringBefore: window.now + window.lookaheadSeconds * 1000,
      after,
      limit: Math.min(CRON_PAGE_SIZE, MAX_REFRESHES_PER_RUN - summary.scanned),
    });
    if (page.length === 0) break;
    const targets = page.filter((row) => !visited.has(row.id));
    for (const row of targets) visited.add(row.id);
    summary.scanned += targets.length;
    await refreshBatch(
      targets.map((row) => ({ userId: row.userId, connectionId: row.id })),
      refreshOne,
      summary,
    );
    const last = page[page.length - 1]!;
    after = { expiresAt: last.accessTokenExpiresAt!, id: last.id };
  }
  return summary;
}
