/**
 * The cron for `npm run dev`. `wrangler dev` never fires a cron trigger by itself; with `--test-scheduled` it runs the
 * Worker's scheduled handler on `GET /__scheduled?cron=…`. Calling that on a timer makes proactive refreshes happen
 * locally as they do in production, where the trigger fires every 5 minutes.
 */

export interface CronTicker {
  stop(): void;
}

export interface CronTickerOptions {
  /** The service under `wrangler dev --test-scheduled`. */
  origin: URL;
  /** The schedule to report to the handler (wrangler.jsonc's). */
  cron: string;
  intervalSeconds: number;
  /** Where a failed trigger is reported (once until one succeeds again: wrangler dev restarts on every code change). */
  warn: (line: string) => void;
}

/** Triggers the scheduled handler every `intervalSeconds`, the first time one interval after the start. */
export function startCronTicker({ origin, cron, intervalSeconds, warn }: CronTickerOptions): CronTicker {
  const url = new URL("/__scheduled", origin);
  url.searchParams.set("cron", cron);
  let failing = false;
  const tick = async () => {
    let problem: string | null = null;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(intervalSeconds * 1000) });
      await response.body?.cancel();
      if (!response.ok) problem = `answered ${response.status}`;
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
    }
    if (problem !== null && !failing) warn(`dev cron: GET ${url.pathname} ${problem}; trying again in ${intervalSeconds} s`);
    failing = problem !== null;
  };
  const timer = setInterval(() => void tick(), intervalSeconds * 1000);
  return { stop: () => clearInterval(timer) };
}
