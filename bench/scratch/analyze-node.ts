import { readFileSync } from "node:fs";
const p = JSON.parse(readFileSync(process.argv[2]!, "utf8"));
const self = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i + 1] ?? 0));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const g = new Map<string, number>();
const f = new Map<string, number>();
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const byId = new Map(p.nodes.map((n: any) => [n.id, n]));
// inclusive time per function name (count once per stack)
const incl = new Map<string, number>();
for (const n of p.nodes) {
  const t = self.get(n.id) ?? 0;
  if (!t) continue;
  const seen = new Set<string>();
  let cur: any = n;
  while (cur) {
    const k = `${cur.callFrame.functionName || "(anon)"} ${cur.callFrame.url.match(/node_modules\/([^/]+(?:\/[^/]+)?)/)?.[1] ?? cur.callFrame.url.split("/").pop()}`;
    if (!seen.has(k)) {
      incl.set(k, (incl.get(k) ?? 0) + t);
      seen.add(k);
    }
    cur = byId.get(parent.get(cur.id)!);
  }
}
for (const n of p.nodes) {
  const t = self.get(n.id) ?? 0;
  const u = n.callFrame.url;
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  const k = m ? m[1] : u.split("/").slice(-2).join("/") || `(${n.callFrame.functionName})`;
  g.set(k, (g.get(k) ?? 0) + t);
  f.set(`${k} ${n.callFrame.functionName}`, (f.get(`${k} ${n.callFrame.functionName}`) ?? 0) + t);
}
const pct = (v: number) => ((100 * v) / total).toFixed(1).padStart(5) + "%";
for (const [k, v] of [...g].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(pct(v), k);
console.log("--- self");
for (const [k, v] of [...f].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(pct(v), k);
console.log("--- inclusive");
for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOPI ?? 50))) console.log(pct(v), k);
