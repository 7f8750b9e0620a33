import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Session } from "node:inspector/promises";
import { getConfig } from "../../src/config";
import { getTokenCipher } from "../../src/crypto/token-cipher";
import { testBindings } from "../../test/support/bindings";
import { authHeaders } from "../../test/support/caller-token";
import { connectionRow } from "../../test/support/connection-rows";
import { connectionInserts } from "../lib/seed-sql";
import { sqliteD1 } from "../lib/sqlite-d1";
const mod = await import("/tmp/ladder-out/ladder.mjs");
const worker = mod.default;
const vars = {
  ...testBindings({ mockProviderOrigin: "http://127.0.0.1:9", oidcIssuer: "http://127.0.0.1:9" }),
  PUBLIC_BASE_URL: "http://localhost:8787",
};
const now = Date.now();
const cipher = getTokenCipher(getConfig(vars).encryptionKeys);
const rows = await Promise.all(
  Array.from({ length: 512 }, (_, i) =>
    connectionRow(cipher, {
      id: `conn_bench_hot_${i}`,
      userId: `bench-hot-${i}`,
      accountEmail: `x${i}@example.com`,
      now,
      refreshToken: `rt-hot-${i}`,
      accessToken: `ya29.hot-${i}`,
      expiresAt: now + 7200_000,
    }),
  ),
);
const migrations = readdirSync("migrations")
  .filter((f) => f.endsWith(".sql"))
  .sort()
  .map((f) => readFileSync(join("migrations", f), "utf8"))
  .join("\n");
const targets = await Promise.all(
  rows.map(async (r) => ({
    id: r.id,
    auth: (await authHeaders(r.userId, { expiresInSeconds: 3600, scope: "connections:token" })).Authorization,
  })),
);
const env = {
  ...vars,
  DB: sqliteD1(migrations + connectionInserts(rows)),
  USER_RATE_LIMITER: { limit: async () => ({ success: true }) },
  AUDIT_QUEUE: { send: async () => {}, sendBatch: async () => {} },
};
const pending: Promise<unknown>[] = [];
const ctx = { waitUntil: (p: Promise<unknown>) => pending.push(p), passThroughOnException() {} };
let n = 0;
const step = process.env.STEP ?? "service";
async function send() {
  const t = targets[n++ % 512]!;
  const r = await worker.fetch(
    new Request(`http://x/${step}/v1/connections/${t.id}/token`, {
      method: "POST",
      headers: { authorization: t.auth, "content-type": "application/json" },
      body: "{}",
    }),
    env,
    ctx,
  );
  await r.text();
  await Promise.all(pending.splice(0));
}
for (let i = 0; i < 3000; i++) await send();
const s = new Session();
s.connect();
await s.post("Profiler.enable");
await s.post("Profiler.setSamplingInterval", { interval: 50 });
await s.post("Profiler.start");
const N = 10000;
const c0 = process.cpuUsage();
for (let i = 0; i < N; i++) await send();
const c = process.cpuUsage(c0);
const { profile } = await s.post("Profiler.stop");
writeFileSync("/tmp/step.cpuprofile", JSON.stringify(profile));
console.log(step, "cpu/req ms", ((c.user + c.system) / 1000 / N).toFixed(4));
