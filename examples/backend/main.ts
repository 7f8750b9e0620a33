/**
 * `npm run example`: the example backend against `npm run dev` and `npm run dev:oidc` (examples/README.md). Settings
 * come from the environment; the npm script loads `.dev.vars`, whose AUTH_JWT_SECRET the service checks too.
 */
import { startExampleBackend } from "./app";

const secret = process.env.AUTH_JWT_SECRET;
if (!secret) {
  console.error("example: AUTH_JWT_SECRET is not set (npm run example reads it from .dev.vars, which npm run dev creates)");
  process.exit(1);
}
const port = Number(process.env.EXAMPLE_PORT ?? 3000);

const backend = await startExampleBackend({
  serviceUrl: process.env.CONNECTION_MANAGER_URL ?? "http://localhost:8787",
  jwt: { secret, issuer: process.env.AUTH_JWT_ISSUER || undefined, audience: process.env.AUTH_JWT_AUDIENCE || undefined },
  provider: process.env.EXAMPLE_PROVIDER ?? "local-oidc",
  providerIssuer: process.env.EXAMPLE_PROVIDER_ISSUER ?? "http://127.0.0.1:9090",
  port,
  // The service's development RETURN_TO_ORIGINS (wrangler.jsonc) allow http://localhost:3000.
  appOrigin: `http://localhost:${port}`,
  webhookSecret: process.env.WEBHOOK_SECRET || undefined,
});
console.log(`Example backend on ${backend.url}
  open   http://localhost:${port}/connect?user=user-1   (connect an account on the connect page)
  then   curl -s "http://localhost:${port}/profile?user=user-1"
Ctrl-C stops it.`);

process.once("SIGINT", () => {
  // The service may have stopped first: then the subscription stays, and the log says so.
  void backend
    .close()
    .catch((error: unknown) => console.error(`example: could not unsubscribe: ${String(error)}`))
    .finally(() => process.exit(0));
});
