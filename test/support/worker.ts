/** Calls the Worker under test through its own fetch handler, as a client on the network would. */
import { exports } from "cloudflare:workers";

export const WORKER_ORIGIN = "http://localhost:8787";

// The generated Env types declare no `GlobalProps.mainModule`, so `exports` is untyped here.
export function worker(): { fetch(request: Request): Promise<Response> } {
  return (exports as unknown as { default: { fetch(request: Request): Promise<Response> } }).default;
}

export function callWorker(path: string, init: RequestInit = {}): Promise<Response> {
  return worker().fetch(new Request(`${WORKER_ORIGIN}${path}`, init));
}
