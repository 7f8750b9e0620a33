/**
 * Two stand-ins for an application's frontend, on loopback (Node only): each serves one blank HTML page at every path,
 * from which a test opens the connect page as a popup. The first origin is the sessions' `opener_origin` (listed in
 * the service's CORS_ORIGINS and RETURN_TO_ORIGINS); the second is any other site.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface AppFrontend {
  origin: string;
  close(): Promise<void>;
}

const PAGE = `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><title>Application</title></head>
  <body><h1>Application</h1></body>
</html>
`;

/** Starts one frontend on a free port of 127.0.0.1. */
export async function startAppFrontend(): Promise<AppFrontend> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }).end(PAGE);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
