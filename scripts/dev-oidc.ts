/**
 * A local OpenID Provider for trying the connect flow by hand (`npm run dev` in one terminal, `npm run dev:oidc` in
 * another). A browser signs in (any account id) and consents on its pages; with a login_hint the two steps complete
 * on their own, as in the tests. Stop it with Ctrl-C.
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

Accounts: sign in on its page with any account id (letters, digits, ".", "_", "-"), then allow access; the email is
<id>@example.com. With login_hint=<id> on the ${server.issuer}/auth URL, sign-in and consent complete on their own.

For the Worker, put in .dev.vars:
  OIDC_PROVIDERS='${JSON.stringify([providerEntry])}'
  OIDC_LOCAL_OIDC_CLIENT_SECRET=<LOCAL_OIDC_CLIENT.clientSecret from test/support/bindings.ts>

Ctrl-C stops it.`);

process.once("SIGINT", () => {
  void server.close().then(() => process.exit(0));
});
