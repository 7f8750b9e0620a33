import { jwtVerify, SignJWT } from "jose";
import { createHash } from "node:crypto";
const secret = new TextEncoder().encode("test-secret-for-hs256-callers-0123456789abcdef");
const token = await new SignJWT({ sub: "u1", scope: "connections:token" })
  .setProtectedHeader({ alg: "HS256" })
  .setExpirationTime("1h")
  .sign(secret);
const enc = new TextEncoder();
async function bench(name: string, f: () => Promise<unknown> | unknown, n = 20000) {
  for (let i = 0; i < 2000; i++) await f();
  const c = process.cpuUsage();
  for (let i = 0; i < n; i++) await f();
  const u = process.cpuUsage(c);
  console.log(name.padEnd(20), ((u.user + u.system) / n).toFixed(2), "µs");
}
await bench("jwtVerify", () => jwtVerify(token, secret, { algorithms: ["HS256"] }));
await bench("subtle.digest", () => crypto.subtle.digest("SHA-256", enc.encode(token)));
await bench("node createHash", () => createHash("sha256").update(token).digest("base64url"));
await bench("noop await", () => undefined);
