/**
 * A local OpenID Provider for trying the connect flow by hand (`npm run dev` in one terminal, `npm run dev:oidc` in
 * another). Logins and consent complete on their own, as in the tests; stop it with Ctrl-C.
 */
import { LOCAL_OIDC_CLIENT, LOCAL_OIDC_ID } from "../test/support/bindings";
import { startOidcServer } from "../test/support/oidc-server";

const PORT = 9090;

const server = await startOidcServer({ port: PORT });
const providerEntry = {
  id: LOCAL_OIDC_ID,
  name: "Local OpenID Provider",
  issuer: server.issuer,
  client_id: LOCAL_OIDC_CLIENT.clientId,
  scopes: ["openid", "email", "profile", "offline_access", "api:read", "api:write"],
  default_scopes: ["openid", "email", "offline_access"],
};
console.log(`Local OpenID Provider: ${server.issuer}
Redirect URI registered: http://localhost:8787/v1/oauth/${LOCAL_OIDC_ID}/callback

Accounts: you are logged in as "alice" (alice@example.com) without a login page. To log in as someone else, add
login_hint=<id> (letters, digits, ".", "_", "-") to the ${server.issuer}/auth URL; the email is <id>@example.com.

For the Worker, put in .dev.vars:
  OIDC_PROVIDERS='${JSON.stringify([providerEntry])}'
  OIDC_LOCAL_OIDC_CLIENT_SECRET=<LOCAL_OIDC_CLIENT.clientSecret from test/support/bindings.ts>

Ctrl-C stops it.`);

process.once("SIGINT", () => {
  void server.close().then(() => process.exit(0));
});
