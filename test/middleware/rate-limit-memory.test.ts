import { Hono } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { AppEnv } from "../../src/http/env";
import { rateLimit, type LimitKey } from "../../src/middleware/rate-limit";
import type { Services } from "../../src/services";

afterEach(() => {
  vi.restoreAllMocks();
});

/** An app behind `rateLimit` whose limiter refuses everything, recording the keys it audits. */
function refusingApp(): { app: Hono<AppEnv>; audited: string[] } {
  const audited: string[] = [];
  const limiter = { limit: async () => ({ success: false }) } as unknown as RateLimit;
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    const services = { clock: () => 1_800_000_000_000, audit: { record: () => audited.push(c.req.header("X-Key")!) } };
    c.set("services", services as unknown as Services);
    await next();
  });
  app.use(rateLimit<AppEnv>((c) => ({ limiter, key: c.req.header("X-Key") as LimitKey })));
  app.get("/", (c) => c.text("ok"));
  app.onError((_error, c) => c.text("limited", 429));
  return { app, audited };
}

describe("rate-limit audit memory", () => {
  it("forgets the audited windows once 10,000 keys are tracked, so memory stays bounded", async () => {
    const { app, audited } = refusingApp();
    const hit = (key: string) => app.request("/", { headers: { "X-Key": key } });

    await hit("ip:first");
    await hit("ip:first");
    expect(audited.filter((key) => key === "ip:first")).toHaveLength(1);

    // `ip:first` and 9,999 others fill the table; the next new key clears it.
    for (let index = 0; index < 10_000; index++) await hit(`ip:other-${index}`);
    await hit("ip:first");

    expect(audited.filter((key) => key === "ip:first")).toHaveLength(2);
  });
});
