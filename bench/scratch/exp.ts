/* scratch experiment harness (not committed) */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, loadavg } from "node:os";
import WS from "ws";
import { join } from "node:path";
// @ts-expect-error
import autocannon from "autocannon";
import { getConfig } from "../../src/config";
import { getTokenCipher } from "../../src/crypto/token-cipher";
import { testBindings } from "../../test/support/bindings";
import { authHeaders } from "../../test/support/caller-token";
import { connectionRow } from "../../test/support/connection-rows";
import { stopAll } from "../../test/support/processes";
import { REPOSITORY_ROOT as ROOT, runWrangler, startWranglerDev } from "../../test/support/wrangler";
import { connectionInserts } from "../lib/seed-sql";

const work = mkdtempSync(join(tmpdir(), "exp-"));
const LOGS = join(work, "logs");
mkdirSync(LOGS);
const DUR = Number(process.env.DUR ?? 8);
const variants: { name: string; config: string; args?: string[]; vars?: Record<string, string>; prefix?: string }[] = JSON.parse(
  process.env.VARIANTS!,
);

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
    out[comm] = (out[comm] ?? 0) + (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10;
  }
  return out;
}

function inspectorPort(pid: number): number {
  const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  return Number(args[args.indexOf("--inspector-port") + 1]);
}
async function startProfile(pid: number) {
  const port = inspectorPort(pid);
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as any[];
  console.log("targets", JSON.stringify(targets.map((t) => [t.title, t.url, t.webSocketDebuggerUrl])));
  const ws = new WS(targets[0].webSocketDebuggerUrl);
  ws.on("unexpected-response", (_req: any, res: any) => {
    console.log("unexpected", res.statusCode, res.headers);
  });
  await new Promise((res, rej) => {
    ws.on("open", res);
    ws.on("error", rej);
  });
  let id = 0;
  const pending = new Map<number, (v: any) => void>();
  ws.on("message", (m: any) => {
    const msg = JSON.parse(String(m));
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)!(msg);
      pending.delete(msg.id);
    }
  });
  const send = (method: string, params: any = {}) =>
    new Promise<any>((res) => {
      const i = ++id;
      pending.set(i, res);
      ws.send(JSON.stringify({ id: i, method, params }));
    });
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 200 });
  await send("Profiler.start");
  return {
    async stop(file: string, n: number) {
      const r = await send("Profiler.stop");
      writeFileSync(file, JSON.stringify(r.result.profile));
      console.log("profile", file, "requests", n);
      ws.close();
    },
  };
}

async function main() {
  const vars = {
    ...testBindings({ mockProviderOrigin: "http://127.0.0.1:9", oidcIssuer: "http://127.0.0.1:9" }),
    PUBLIC_BASE_URL: "http://localhost:8787",
  };
  const now = Date.now();
  const cipher = getTokenCipher(getConfig(vars).encryptionKeys);
  const N = 512;
  const rows = await Promise.all(
    Array.from({ length: N }, (_, i) =>
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
  const seed = join(work, "seed.sql");
  writeFileSync(seed, connectionInserts(rows));
  const state = join(work, "state");
  const w = (args: string[]) => runWrangler(args, { workDir: work, logFile: join(LOGS, "w.log"), timeoutMs: 600_000 });
  await w(["d1", "migrations", "apply", "DB", "--local", "--persist-to", state, "--config", "wrangler.jsonc"]);
  await w(["d1", "execute", "DB", "--local", "--persist-to", state, "--config", "wrangler.jsonc", "--file", seed, "--yes"]);
  const targets = await Promise.all(
    rows.map(async (r) => ({
      id: r.id,
      auth: (await authHeaders(r.userId, { expiresInSeconds: 3600, scope: "connections:token" })).Authorization,
    })),
  );
  for (const v of variants) {
    const st = join(work, `state-${v.name}`);
    cpSync(state, st, { recursive: true });
    const port = 20000 + Math.floor(Math.random() * 20000);
    const dev = await startWranglerDev({
      name: v.name,
      workDir: work,
      logFile: join(LOGS, `${v.name}.log`),
      port,
      persistTo: st,
      vars: v.vars ?? vars,
      args: [...(v.args ?? []), "--config", v.config],
    });
    const run = async (d: number) => {
      let next = 0;
      const before = cpuByComm(dev.group.pid!);
      const r = await autocannon({
        url: dev.origin,
        connections: 32,
        duration: d,
        pipelining: 1,
        requests: [
          {
            method: "POST",
            setupRequest: (req: any) => {
              const t = targets[next++ % targets.length]!;
              return {
                ...req,
                path: `${v.prefix ?? ""}/v1/connections/${t.id}/token`,
                headers: { authorization: t.auth, "content-type": "application/json" },
                body: "{}",
              };
            },
          },
        ],
      });
      const after = cpuByComm(dev.group.pid!);
      const cpu = Object.fromEntries(Object.keys(after).map((k) => [k, ((after[k]! - (before[k] ?? 0)) / r.requests.total).toFixed(2)]));
      return {
        rps: r.requests.average,
        mean: r.latency.mean,
        p50: r.latency.p50,
        p99: r.latency.p99,
        n: r.requests.total,
        non2xx: r.non2xx,
        cpu,
      };
    };
    const check = await fetch(`${dev.origin}${v.prefix ?? ""}/v1/connections/${targets[0]!.id}/token`, {
      method: "POST",
      headers: { authorization: targets[0]!.auth, "content-type": "application/json" },
      body: "{}",
    });
    console.log(v.name, "check", check.status, (await check.text()).slice(0, 120));
    if ((v as any).prefixes) {
      const acc: Record<string, { cpu: number; n: number; rps: number[] }> = {};
      for (const p of (v as any).prefixes) {
        (v as any).prefix = p;
        await run(2);
      }
      for (let round = 0; round < Number(process.env.ROUNDS ?? 3); round++)
        for (const p of (v as any).prefixes) {
          (v as any).prefix = p;
          const r = await run(DUR);
          const cpu = Object.values(r.cpu).reduce((a: number, b: any) => a + Number(b), 0) * r.n;
          acc[p] ??= { cpu: 0, n: 0, rps: [] };
          acc[p].cpu += cpu;
          acc[p].n += r.n;
          acc[p].rps.push(Math.round(r.rps));
        }
      for (const [p, a] of Object.entries(acc))
        console.log(JSON.stringify({ prefix: p, cpuPerReq: (a.cpu / a.n).toFixed(3), rps: a.rps, load: loadavg()[0]!.toFixed(2) }));
    } else {
      await run(3);
      let prof: any = null;
      if (process.env.PROFILE) prof = await startProfile(dev.group.pid!);
      const r = await run(DUR);
      if (prof) await prof.stop(join(work, `${v.name}.cpuprofile`), r.n);
      console.log(
        JSON.stringify({ variant: v.name, ...r, rps: r.rps.toFixed(0), mean: r.mean.toFixed(1), load: loadavg()[0]!.toFixed(2) }),
      );
    }
    if (process.env.PROFILE) {
      const tmp = join(ROOT, ".wrangler", "tmp");
      const d = readdirSync(tmp)
        .filter((x) => x.startsWith("dev-"))
        .map((x) => join(tmp, x))
        .filter((x) => {
          try {
            return readdirSync(x).includes("index.js");
          } catch {
            return false;
          }
        });
      for (const x of d) {
        try {
          cpSync(join(x, "index.js"), join(work, `${v.name}.index.js`));
          cpSync(join(x, "index.js.map"), join(work, `${v.name}.index.js.map`));
        } catch {}
      }
    }
    await dev.group.stop();
  }
  await stopAll();
  if (!process.env.KEEP) rmSync(work, { recursive: true, force: true });
}
main().catch(async (e) => {
  console.error(e);
  await stopAll();
  process.exit(1);
});
