/**
 * Bursts against the rate-limit bindings. The local limiter (miniflare) and the Worker's per-isolate memory of a
 * window both align windows to the wall clock, so a burst that crosses a boundary would reset the count mid-way;
 * these helpers keep each burst inside one window.
 */
import { RATE_LIMIT_PERIOD_SECONDS } from "../../src/middleware/window-marks";

const WINDOW_MS = RATE_LIMIT_PERIOD_SECONDS * 1000;

function windowNow(): number {
  return Math.floor(Date.now() / WINDOW_MS);
}

/** Waits for the next window when the current one has less than `roomMs` left, so a burst fits in one window. */
async function startOfRoomyWindow(roomMs: number): Promise<number> {
  const left = WINDOW_MS - (Date.now() % WINDOW_MS);
  if (left < roomMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
  return windowNow();
}

/**
 * Runs `attempt` (which must use fresh keys each time) until one run stays inside one window: a slow machine may
 * still cross a boundary. Two tries are plenty. `roomMs` is more than one attempt takes.
 */
export async function withinOneWindow<T>(attempt: () => Promise<T>, roomMs: number): Promise<T> {
  for (let tries = 0; tries < 2; tries++) {
    const window = await startOfRoomyWindow(roomMs);
    const result = await attempt();
    if (windowNow() === window) return result;
  }
  throw new Error("every burst crossed a rate-limit window");
}

/** Sends `count` requests in parallel batches of `concurrency`; returns their statuses in order. */
export async function burst(count: number, send: (index: number) => Promise<Response>, concurrency = 50): Promise<number[]> {
  const statuses: number[] = [];
  for (let sent = 0; sent < count; sent += concurrency) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(concurrency, count - sent) }, async (_, offset) => {
        const response = await send(sent + offset);
        await response.body?.cancel();
        return response.status;
      }),
    );
    statuses.push(...batch);
  }
  return statuses;
}

/** A client address of its own per test (RFC 1918 space), so tests never share a limiter key. */
export function randomIp(): string {
  const octet = () => Math.floor(Math.random() * 254) + 1;
  return `10.${octet()}.${octet()}.${octet()}`;
}
