/**
 * A local OpenID Provider for trying the connect flow by hand (`npm run dev` in one terminal, `npm run dev:oidc` in
 * another; `.dev.vars.example` declares it as the provider `local-oidc`). Its pages sign a person in (a demo account,
 * or any account id) and ask for consent; with a login_hint the two steps complete on their own, as in the tests.
 *
 * It keeps its keys, sessions, grants and tokens in `.wrangler/dev-oidc/state.json` (git-ignored, beside the local
 * D1), so restarting it ends no local connection. Its access tokens live 3 minutes: short enough that the cron
 * `npm run dev` triggers every minute visibly refreshes them ahead of expiry. Ctrl-C stops it.
 */
import { LOCAL_OIDC_ID } from "../test/support/bindings";
import { DEMO_ACCOUNTS, startOidcServer, type OidcServer } from "../test/support/oidc-server";
import { devOrigin } from "./dev-settings";

const PORT = 9090;
const STATE_FILE = ".wrangler/dev-oidc/state.json";
/**
 * A token issued for less than the cron's look-ahead (REFRESH_LOOKAHEAD_SECONDS) is refreshed once less than half
 * of its life remains: between 90 s and 30 s before it expires, with the cron running every minute.
 */
const ACCESS_TOKEN_TTL_SECONDS = 180;

const redirectUri = new URL(`/v1/oauth/${LOCAL_OIDC_ID}/callback`, await devOrigin(process.cwd())).href;
let server: OidcServer;
try {
  server = await startOidcServer({
    port: PORT,
    stateFile: STATE_FILE,
    accessTokenTtlSeconds: ACCESS_TOKEN_TTL_SECONDS,
    redirectUris: [redirectUri],
  });
} catch (error) {
  if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
  console.error(`npm run dev:oidc: port ${PORT} is already in use (another npm run dev:oidc?); .dev.vars names this issuer on it.`);
  process.exit(1);
}

console.log(`Local OpenID Provider (provider "${LOCAL_OIDC_ID}" in .dev.vars): ${server.issuer}
Redirect URI registered: ${redirectUri}
Accounts: its sign-in page offers ${DEMO_ACCOUNTS.map((account) => account.name).join(", ")}, or any account id you type
  (letters, digits, ".", "_", "-"); the email is <id>@example.com. Then it asks for consent.
Access tokens live ${ACCESS_TOKEN_TTL_SECONDS} s; the cron of npm run dev refreshes them before they expire.
State: ${STATE_FILE}, kept across restarts (delete it to start afresh; connections made before then need reconnecting).
Ctrl-C stops it.`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
