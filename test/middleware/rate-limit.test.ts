import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { RATE_LIMIT_PERIOD_SECONDS } from "../../src/middleware/rate-limit";
import { authHeaders } from "../support/caller-token";
import { freshUser } from "../support/integration-helpers";
import { expectProblem } from "../support/refresh-fixtures";
import { callWorker } from "../support/worker";

/** wrangler.jsonc: USER_RATE_LIMITER 600 and IP_RATE_LIMITER 60 per 60 s. */
const USER_LIMIT = 600;
const IP_LIMIT = 60;
const WINDOW_MS = RATE_LIMIT_PERIOD_SECONDS * 1000;
/** More than a burst here takes, so one burst never straddles two windows. */
const ROOM_NEEDED_MS = 25_000;

/**
 * Windows are aligned to the wall clock (the local limiter and the audit dedup alike). Waits for the next window
 * when the current one has too little time left for the burst, so the counts below do not depend on timing.
 */
async function startOfRoomyWindow(): Promise<number> {
  const left = WINDOW_MS - (Date.now() % WINDOW_MS);
  if (left < ROOM_NEEDED_MS) await new Promise((resolve) => setTimeout(resolve, left + 50));
  return Math.floor(Date.now() / WINDOW_MS);
}

function windowNow(): number {
  return Math.floor(Date.now() / WINDOW_MS);
}

/**
 * Runs `attempt` (with a fresh key each time) until one run stays inside one window: a slow machine may still cross
 * a boundary, which would reset the limiter mid-burst. Two tries are plenty.
 */
async function withinOneWindow<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 0; tries < 2; tries++) {
    const window = await startOfRoomyWindow();
    const result = await attempt();
    if (windowNow() === window) return result;
  }
  throw new Error("every burst crossed a rate-limit window");
}

/** Sends `count` requests in parallel batches; returns their statuses. */
async function burst(count: number, send: () => Promise<Response>): Promise<number[]> {
  const statuses: number[] = [];
  for (let sent = 0; sent < count; sent += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, count - sent) }, async () => {
        const response = await send();
        await response.body?.cancel();
        return response.status;
      }),
    );
    statuses.push(...batch);
  }
  return statuses;
}

function randomIp(): string {
  const octet = () => Math.floor(Math.random() * 254) + 1;
  return `10.${octet()}.${octet()}.${octet()}`;
}

async function rateLimitedRows(column: "user_id" | "ip", value: string): Promise<{ user_id: string | null; detail: string }[]> {
  const result = await env.DB.prepare(`SELECT user_id, detail FROM audit_events WHERE action = 'rate_limited' AND ${column} = ?`)
    .bind(value)
    .all<{ user_id: string | null; detail: string }>();
  return result.results;
}

describe("the per-user rate limit on the JWT API", () => {
  it("answers 429 problem+json with Retry-After: 60 after 600 requests in a window, audits it once, and spares other users", async () => {
    const { user, allowed, limited, more } = await withinOneWindow(async () => {
      const user = freshUser("rl-user");
      const headers = await authHeaders(user);
      const allowed = await burst(USER_LIMIT, () => callWorker("/v1/providers", { headers }));
      const limited = await callWorker("/v1/providers", { headers });
      const more = await burst(5, () => callWorker("/v1/providers", { headers }));
      return { user, allowed, limited, more };
    });
    expect(allowed.filter((status) => status !== 200)).toEqual([]);
    await expectProblem(limited.clone(), 429, "rate-limited");
    expect(limited.headers.get("Retry-After")).toBe("60");
    expect(more).toEqual([429, 429, 429, 429, 429]);

    const rows = await rateLimitedRows("user_id", user);
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0]!.detail)).toEqual({ limit: "user" });
    const other = await callWorker("/v1/providers", { headers: await authHeaders(freshUser("rl-other")) });
    expect(other.status).toBe(200);
  }, 150_000);
});

describe("the per-IP rate limit on the browser endpoints", () => {
  it("answers 429 with Retry-After: 60 after 60 start requests from one address, audits it once, and spares other addresses", async () => {
    const { ip, allowed, limited, more } = await withinOneWindow(async () => {
      const ip = randomIp();
      const start = () => callWorker("/v1/oauth/google/start?state=not-a-real-state", { headers: { "CF-Connecting-IP": ip } });
      const allowed = await burst(IP_LIMIT, start);
      const limited = await start();
      const more = await burst(5, start);
      return { ip, allowed, limited, more };
    });
    expect(allowed.filter((status) => status === 429)).toEqual([]);
    await expectProblem(limited.clone(), 429, "rate-limited");
    expect(limited.headers.get("Retry-After")).toBe("60");
    expect(more).toEqual([429, 429, 429, 429, 429]);

    const rows = await rateLimitedRows("ip", ip);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ user_id: null });
    expect(JSON.parse(rows[0]!.detail)).toEqual({ limit: "ip" });
    const elsewhere = await callWorker("/v1/oauth/google/start?state=not-a-real-state", { headers: { "CF-Connecting-IP": randomIp() } });
    expect(elsewhere.status).not.toBe(429);
  }, 150_000);

  it("does not limit by address when the request carries no CF-Connecting-IP (local runs)", async () => {
    const statuses = await burst(IP_LIMIT + 5, () => callWorker("/v1/oauth/google/start?state=not-a-real-state"));
    expect(statuses.filter((status) => status === 429)).toEqual([]);
  });
});
