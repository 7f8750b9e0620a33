import { AUDIT_DELETE_BATCH, MAX_AUDIT_DELETE_BATCHES_PER_RUN } from "./limits";

const DAY_MS = 86_400_000;

/** Rows older than this are past a retention of `retentionDays` at `now`. */
export function retentionCutoff(now: number, retentionDays: number): number {
  return now - retentionDays * DAY_MS;
}

/**
 * Runs `deleteBatch` (which deletes up to `batch` rows and says how many went) until a batch comes back short, at most
 * `MAX_AUDIT_DELETE_BATCHES_PER_RUN` times; returns how many went. What a run leaves, the next one deletes.
 */
export async function deleteInBatches(deleteBatch: (batch: number) => Promise<number>): Promise<number> {
  let deleted = 0;
  for (let run = 0; run < MAX_AUDIT_DELETE_BATCHES_PER_RUN; run++) {
    const changes = await deleteBatch(AUDIT_DELETE_BATCH);
    deleted += changes;
    if (changes < AUDIT_DELETE_BATCH) break;
  }
  return deleted;
}
