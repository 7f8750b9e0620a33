/**
 * `POST /{variant}/v1/connections/{id}/token`: the reference Worker's D1 point read plus one piece of the service's
 * vend hot path, done the way the service does it (same libraries, same src/ modules):
 *   d1        the reference itself (one prepared D1 point read)
 *   drizzle   the same read through Drizzle's relational query, as src/storage/connections.ts findConnection does
 *   jwt       + HS256 caller JWT verification with jose, as src/middleware/caller-auth.ts does (secret as bytes)
 *   ratelimit + the USER_RATE_LIMITER binding call (under wrangler dev: a call into a local Durable Object)
 *   decrypt   + AES-256-GCM decryption of the stored access token (src/crypto/token-cipher.ts)
 *   audit     + the vend's audit event sent to the audit queue after the response (src/audit/audit-sink.ts, through
 *             this request's waitUntil); the queue's consumer, which writes the events to D1, is not on the hot path
 */
import { jwtVerify } from "jose";
import { AuditSink } from "../../src/audit/audit-sink";
import { getTokenCipher } from "../../src/crypto/token-cipher";
import { findConnection } from "../../src/storage/connections";
import { database } from "../../src/storage/database";

interface Env {
  DB: D1Database;
  AUDIT_QUEUE: Queue;
  USER_RATE_LIMITER: RateLimit;
  AUTH_JWT_SECRET: string;
  TOKEN_ENCRYPTION_KEYS: string;
}

interface Row {
  id: string;
  user_id: string;
  access_token_ciphertext: string;
}

let keys: { kid: string; key: Uint8Array<ArrayBuffer> }[] | null = null;

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const match = /^\/(\w+)\/v1\/connections\/([^/]+)\/token$/.exec(new URL(request.url).pathname);
    if (!match) return Response.json({ error: "not_found" }, { status: 404 });
    const [, variant, id] = match as unknown as [string, string, string];
    let userId: string | null = null;
    if (variant === "jwt") {
      const token = request.headers.get("authorization")?.slice("Bearer ".length) ?? "";
      const { payload } = await jwtVerify(token, new TextEncoder().encode(env.AUTH_JWT_SECRET), {
        algorithms: ["HS256"],
        requiredClaims: ["exp", "sub"],
      });
      userId = payload.sub ?? null;
    }
    if (variant === "ratelimit") {
      const outcome = await env.USER_RATE_LIMITER.limit({ key: `user:${id}` });
      if (!outcome.success) return Response.json({ error: "rate_limited" }, { status: 429 });
    }
    let row: Row | null;
    if (variant === "drizzle") {
      const found = await findConnection(database(env.DB), { userId: `bench-hot-${id.slice("conn_bench_hot_".length)}`, id });
      row = found && { id: found.id, user_id: found.userId, access_token_ciphertext: found.accessTokenCiphertext };
    } else {
      row = await env.DB.prepare("SELECT id, user_id, access_token_ciphertext FROM connections WHERE id = ?1").bind(id).first<Row>();
    }
    if (!row) return Response.json({ error: "not_found" }, { status: 404 });
    let token = row.access_token_ciphertext;
    if (variant === "decrypt") {
      keys ??= env.TOKEN_ENCRYPTION_KEYS.split(",").map((entry) => {
        const [kid, key] = entry.split(":") as [string, string];
        return { kid, key: Uint8Array.from(atob(key), (c) => c.charCodeAt(0)) };
      });
      const opened = await getTokenCipher(keys).decrypt(token, { userId: row.user_id, connectionId: row.id, field: "access_token" });
      if (!opened.ok) return Response.json({ error: opened.reason }, { status: 500 });
      token = opened.plaintext;
    }
    if (variant === "audit") {
      const origin = { requestId: null, ip: null, userId: row.user_id, actor: "backend" as const };
      const audit = new AuditSink(database(env.DB), env.AUDIT_QUEUE, origin, Date.now);
      audit.recordAfterResponse({
        action: "token.vended",
        outcome: "success",
        provider: "google",
        connectionId: row.id,
        detail: { refreshed: false },
      });
      ctx.waitUntil(audit.flushAfterResponse());
    }
    return Response.json({ id: row.id, user: userId ?? row.user_id, token });
  },
};
