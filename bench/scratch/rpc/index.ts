import service from "../../../src/index";
import { readConnection } from "../../reference";
export * from "../../../src/index";
let n = 0;
export default {
  ...service,
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    const m = /^\/(\w+)\/v1\/connections\/([^/]+)\/token$/.exec(url.pathname);
    if (!m) return new Response("no", { status: 404 });
    const [, variant, id] = m as unknown as [string, string, string];
    if (variant === "rl" || variant === "both") {
      const r = await env.USER_RATE_LIMITER.limit({ key: `user:${id}` });
      if (!r.success) return new Response("limited", { status: 429 });
    }
    if (variant === "q" || variant === "both") {
      const ev = {
        id: `evt_${crypto.randomUUID()}`,
        at: Date.now(),
        userId: "u",
        actor: "backend",
        action: "token.vended",
        provider: "google",
        connectionId: id,
        outcome: "success",
        requestId: null,
        ip: null,
        detail: { refreshed: false },
      };
      ctx.waitUntil(env.AUDIT_QUEUE.sendBatch([{ body: ev, contentType: "json" }]));
    }
    if (variant === "hdr") {
      const res = await readConnection(env.DB, id);
      const r2 = new Response(res.body, res);
      for (let i = 0; i < 14; i++) r2.headers.set(`X-Extra-${i}`, "some-value-" + i);
      return r2;
    }
    return readConnection(env.DB, id);
  },
} satisfies ExportedHandler<Env>;
