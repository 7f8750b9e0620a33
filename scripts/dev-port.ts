/**
 * Whether the port of `PUBLIC_BASE_URL` is free for `wrangler dev`. Left to itself, wrangler dev moves to another
 * port when its own is taken (a second `npm run dev`), while every link the service hands out (start URLs, redirect
 * URIs, connect links) still names the first one: a browser would end up at the other instance.
 */
import { createServer } from "node:net";

/** Loopback addresses wrangler dev may listen on for `localhost`; one the machine lacks cannot be taken. */
const LOOPBACK_HOSTS = ["127.0.0.1", "::1"];
const ABSENT_ADDRESS_CODES = new Set(["EADDRNOTAVAIL", "EAFNOSUPPORT"]);

/** True when something already listens on `port` of a loopback address. */
export async function portInUse(port: number): Promise<boolean> {
  for (const host of LOOPBACK_HOSTS) {
    if (await taken(host, port)) return true;
  }
  return false;
}

function taken(host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") resolve(true);
      else if (ABSENT_ADDRESS_CODES.has(error.code ?? "")) resolve(false);
      else reject(error);
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(false)));
  });
}

/** The one line `npm run dev` stops with when the port of `origin` is taken. */
export function portTakenMessage(origin: URL, port: number): string {
  return (
    `npm run dev: port ${port} is already in use (another npm run dev?). The links this service hands out name ` +
    `${origin.origin} (PUBLIC_BASE_URL), so it will not start on another port: stop the other one, or set ` +
    `PUBLIC_BASE_URL in .dev.vars to a free port.`
  );
}
