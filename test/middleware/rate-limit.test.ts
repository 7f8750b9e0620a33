import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { authHeaders } from "../support/caller-token";
import { expectProblem } from "../support/problems";
import { newUserId } from "../support/users";
import { callWorker } from "../support/worker";
import { burst, randomIp, withinOneWindow } from "./rate-limit-windows";

/** wrangler.jsonc: USER_RATE_LIMITER 600 and IP_RATE_LIMITER 60 per 60 s. */
const USER_LIMIT = 600;
const IP_LIMIT = 60;
/** More than a burst here takes, so one burst never straddles two windows. */
const ROOM_NEEDED_MS = 25_000;

async function rateLimitedRows(column: "user_id" | "ip", value: string): Promise<{ user_id: string | null; detail: string }[]> {
  const result = await env.DB.prepare(`SELECT user_id, detail FROM audit_events WHERE action = 'rate_limited' AND ${column} = ?`)
    .bind(value)
    .all<{ user_id: string | null; detail: string }>();
  return result.results;
}

describe("the per-user rate limit on the JWT API", () => {
  it("answers 429 problem+json with Retry-After: 60 after 600 requests in a window, audits it once, and spares other users", async () => {
    const { user, allowed, limited, more } = await withinOneWindow(async () => {
      const user = newUserId("rl-user");
      const headers = await authHeaders(user);
      const allowed = await burst(USER_LIMIT, () => callWorker("/v1/providers", { headers }));
      const limited = await callWorker("/v1/providers", { headers });
      const more = await burst(5, () => callWorker("/v1/providers", { headers }));
      return { user, allowed, limited, more };
    }, ROOM_NEEDED_MS);
    expect(allowed.filter((status) => status !== 200)).toEqual([]);
    await expectProblem(limited.clone(), 429, "rate-limited");
    expect(limited.headers.get("Retry-After")).toBe("60");
    expect(more).toEqual([429, 429, 429, 429, 429]);

    const rows = await rateLimitedRows("user_id", user);
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0]!.detail)).toEqual({ limit: "user" });
    const other = await callWorker("/v1/providers", { headers: await authHeaders(newUserId("rl-other")) });
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
    }, ROOM_NEEDED_MS);
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
