import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopAll } from "../../test/support/processes";
import { startWranglerDev } from "../../test/support/wrangler";
import { testBindings } from "../../test/support/bindings";
function cpuByComm(pgid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue;
    }
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(f[2]) !== pgid) continue;
    out[comm] = (out[comm] ?? 0) + (Number(f[11]) + Number(f[12])) * 10;
  }
  return out;
}
const work = mkdtempSync(join(tmpdir(), "idle-"));
const vars = {
  ...testBindings({ mockProviderOrigin: "http://127.0.0.1:9", oidcIssuer: "http://127.0.0.1:9" }),
  PUBLIC_BASE_URL: "http://localhost:8787",
};
for (const [name, config, v] of [
  ["ref", "bench/reference/wrangler.jsonc", {}],
  ["svc", "wrangler.jsonc", vars],
] as const) {
  const dev = await startWranglerDev({
    name,
    workDir: work,
    logFile: join(work, `${name}.log`),
    port: 30000 + Math.floor(Math.random() * 10000),
    persistTo: join(work, name),
    vars: v,
    args: ["--config", config],
  });
  await new Promise((r) => setTimeout(r, 5000));
  const a = cpuByComm(dev.group.pid!);
  await new Promise((r) => setTimeout(r, 20000));
  const b = cpuByComm(dev.group.pid!);
  console.log(
    name,
    "idle CPU ms per s:",
    JSON.stringify(Object.fromEntries(Object.keys(b).map((k) => [k, ((b[k]! - (a[k] ?? 0)) / 20).toFixed(1)]))),
  );
  await dev.group.stop();
}
await stopAll();
