/**
 * `npm run dev`: `wrangler dev --test-scheduled` on the port of PUBLIC_BASE_URL (scripts/prepare-dev.ts, which npm
 * runs first, refused to go on when it is taken), and, once the service answers, its cron triggered every minute
 * (scripts/dev-cron.ts), so that proactive refreshes happen locally. `DEV_CRON_SECONDS` sets the interval; 0 turns it
 * off. Runs in the package directory; Ctrl-C stops both.
 */
import { spawn } from "node:child_process";
import { startCronTicker, type CronTicker } from "./dev-cron.ts";
import { devCron, devOrigin, portOf } from "./dev-settings.ts";

const DEFAULT_CRON_SECONDS = 60;
const READY_POLL_MS = 500;

const cronSeconds = Number(process.env.DEV_CRON_SECONDS ?? DEFAULT_CRON_SECONDS);
if (!Number.isSafeInteger(cronSeconds) || cronSeconds < 0) {
  console.error("npm run dev: DEV_CRON_SECONDS must be a whole number of seconds (0 turns the cron off)");
  process.exit(1);
}
const origin = await devOrigin(process.cwd());

// Arguments after `npm run dev --` go to wrangler dev.
const wrangler = spawn("wrangler", ["dev", "--test-scheduled", "--port", String(portOf(origin)), ...process.argv.slice(2)], {
  stdio: "inherit",
  env: {
    ...process.env,
    // The Worker reads nothing from `request.cf`: without this, wrangler dev fetches Cloudflare's sample of it at
    // every start, and prints a stack trace when the machine is offline (getaddrinfo ENOTFOUND workers.cloudflare.com).
    CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false",
  },
});

let ticker: CronTicker | null = null;
let running = true;
wrangler.once("exit", (code, signal) => {
  running = false;
  ticker?.stop();
  process.exit(code ?? (signal === "SIGINT" ? 0 : 1));
});
// Ctrl-C reaches wrangler too (the terminal signals the whole process group): wait for it to finish. A SIGTERM is
// meant for this process alone: pass it on.
process.on("SIGINT", () => undefined);
process.on("SIGTERM", () => wrangler.kill("SIGTERM"));

if (cronSeconds > 0 && (await answers(new URL("/health", origin)))) {
  const cron = await devCron(process.cwd());
  ticker = startCronTicker({ origin, cron, intervalSeconds: cronSeconds, warn: (line) => console.error(line) });
  console.log(
    `npm run dev: the cron (${cron}) runs every ${cronSeconds} s through GET /__scheduled; DEV_CRON_SECONDS=0 npm run dev turns that off.`,
  );
}

/** Waits until `url` answers 200; false when wrangler exited first. */
async function answers(url: URL): Promise<boolean> {
  while (running) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      if (response.ok) return true;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
  return false;
}
