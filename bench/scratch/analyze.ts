import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
const [profFile, mapFile] = process.argv.slice(2);
const p = JSON.parse(readFileSync(profFile!, "utf8"));
const map = mapFile ? new SourceMap(JSON.parse(readFileSync(mapFile, "utf8"))) : null;
const self = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i + 1] ?? 0));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const n = Number(process.env.N ?? 1);
const group = new Map<string, number>();
const fns = new Map<string, number>();
function where(cf: any): string {
  if (!cf.url) return `(${cf.functionName || "?"})`;
  if (cf.url.endsWith("index.js") && map) {
    const e: any = map.findEntry(cf.lineNumber, cf.columnNumber);
    const f: string = e?.originalSource ?? "?";
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f);
    return m ? (m[1] === "src" ? "drizzle-orm" : m[1]!) : f.replace(/^.*?\/(src|bench|node_modules)\//, "$1/");
  }
  return cf.url;
}
for (const node of p.nodes) {
  const t = self.get(node.id) ?? 0;
  const w = where(node.callFrame);
  group.set(w, (group.get(w) ?? 0) + t);
  const k = `${w} ${node.callFrame.functionName}`;
  fns.set(k, (fns.get(k) ?? 0) + t);
}
const fmt = (us: number) => `${(us / 1000).toFixed(0)} ms  ${(us / n / 1000).toFixed(3)} ms/req  ${((100 * us) / total).toFixed(1)}%`;
console.log("total", fmt(total));
for (const [k, v] of [...group].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 30))) console.log(fmt(v).padEnd(40), k);
console.log("--- functions");
for (const [k, v] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOPF ?? 40))) console.log(fmt(v).padEnd(40), k);
