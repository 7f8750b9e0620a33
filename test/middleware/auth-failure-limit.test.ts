import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { authHeaders } from "../support/caller-token";
import { expectProblem } from "../support/problems";
import { newUserId } from "../support/users";
import { callWorker } from "../support/worker";
import { burst, randomIp, withinOneWindow } from "./rate-limit-windows";

/** wrangler.jsonc: AUTH_FAILURE_RATE_LIMITER, 30 failed authentications per address and 60 s. */
const AUTH_FAILURE_LIMIT = 30;
/** Far more than the ~40 sequential requests below take. */
const ROOM_NEEDED_MS = 10_000;
const FORGING_SECRET = "a-secret-the-service-does-not-know-0123456789";

function fromAddress(ip: string, headers: Record<string, string>): Promise<Response> {
  return callWorker("/v1/providers", { headers: { ...headers, "CF-Connecting-IP": ip } });
}

async function auditRowsFrom(ip: string, action: string): Promise<{ user_id: string | null; detail: string }[]> {
  const result = await env.DB.prepare("SELECT user_id, detail FROM audit_events WHERE action = ? AND ip = ?")
    .bind(action, ip)
    .all<{ user_id: string | null; detail: string }>();
  return result.results;
}

describe("the limit on failed caller authentications per address", () => {
  it("answers 429 after 30 forged tokens from one address, writes one auth.failed row for the window, and refuses even a valid token from it unverified", async () => {
    const { ip, statuses, limited, validFromSpent } = await withinOneWindow(async () => {
      const ip = randomIp();
      const forged = await authHeaders(newUserId("af-forger"), { secret: FORGING_SECRET });
      const statuses: number[] = [];
      for (let attempt = 0; attempt < AUTH_FAILURE_LIMIT + 5; attempt++) {
        const response = await fromAddress(ip, forged);
        await response.body?.cancel();
        statuses.push(response.status);
      }
      const limited = await fromAddress(ip, forged);
      const validFromSpent = await fromAddress(ip, await authHeaders(newUserId("af-valid-same-address")));
      return { ip, statuses, limited, validFromSpent };
    }, ROOM_NEEDED_MS);

    expect(statuses.slice(0, AUTH_FAILURE_LIMIT)).toEqual(Array(AUTH_FAILURE_LIMIT).fill(401));
    expect(statuses.slice(AUTH_FAILURE_LIMIT)).toEqual([429, 429, 429, 429, 429]);
    await expectProblem(limited.clone(), 429, "rate-limited");
    expect(limited.headers.get("Retry-After")).toBe("60");
    await expectProblem(validFromSpent, 429, "rate-limited");

    const failures = await auditRowsFrom(ip, "auth.failed");
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ user_id: null });
    const limitedRows = await auditRowsFrom(ip, "rate_limited");
    expect(limitedRows).toHaveLength(1);
    expect(JSON.parse(limitedRows[0]!.detail)).toEqual({ limit: "auth_failure" });

    const elsewhere = await fromAddress(randomIp(), await authHeaders(newUserId("af-valid-other-address")));
    expect(elsewhere.status).toBe(200);
    const forgedElsewhere = await fromAddress(randomIp(), await authHeaders(newUserId("af-forger-other"), { secret: FORGING_SECRET }));
    expect(forgedElsewhere.status).toBe(401);
  }, 60_000);

  it("never limits valid traffic by address: 1,000 valid requests for 64 users from one address all succeed", async () => {
    const ip = randomIp();
    const users = Array.from({ length: 64 }, () => newUserId("af-backend"));
    const headers = await Promise.all(users.map((user) => authHeaders(user)));
    const statuses = await burst(1000, (index) => fromAddress(ip, headers[index % users.length]!), 25);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(await auditRowsFrom(ip, "rate_limited")).toEqual([]);
  }, 30_000);

  it("does not count failures by address when the request carries no CF-Connecting-IP (local runs)", async () => {
    const forged = await authHeaders(newUserId("af-local"), { secret: FORGING_SECRET });
    const statuses = await burst(AUTH_FAILURE_LIMIT + 5, () => callWorker("/v1/providers", { headers: forged }));
    expect(statuses.filter((status) => status !== 401)).toEqual([]);
  });
});
