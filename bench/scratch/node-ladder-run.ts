import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { getConfig } from "../../src/config";
import { getTokenCipher } from "../../src/crypto/token-cipher";
import { testBindings } from "../../test/support/bindings";
import { authHeaders } from "../../test/support/caller-token";
import { connectionRow } from "../../test/support/connection-rows";
import { connectionInserts } from "../lib/seed-sql";
import { ladderInNode } from "../breakdown/in-node";
const vars = {
  ...testBindings({ mockProviderOrigin: "http://127.0.0.1:9", oidcIssuer: "http://127.0.0.1:9" }),
  PUBLIC_BASE_URL: "http://localhost:8787",
  UPSTREAM_TIMEOUT_MS: "10000",
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
    connectionId: r.id,
    caller: await authHeaders(r.userId, { expiresInSeconds: 3600, scope: "connections:token" }),
  })),
);
const costs = await ladderInNode({
  outDir: "/tmp/ladder-out",
  vars,
  setupSql: migrations + "\n" + connectionInserts(rows),
  targets,
  requests: Number(process.env.REQ ?? 3000),
});
let prev = 0;
for (const c of costs) {
  console.log(c.name.padEnd(16), c.cpuMs.toFixed(4), (c.cpuMs - prev >= 0 ? "+" : "") + (c.cpuMs - prev).toFixed(4));
  prev = c.cpuMs;
}
