/**
 * A bare OAuth client of the local oidc-provider (./oidc-server.ts), for tests of the issuer itself: the PKCE
 * authorization request, its token endpoint, and a whole flow for a hinted account. Runs in workerd and in Node.
 */
import { LOCAL_OIDC_CLIENT } from "./bindings";
import { Browser, rewriteQuery } from "./cookie-browser";

/** The redirect URI the issuer registers by default (the Worker's callback under `npm run dev`). */
export const LOCAL_OIDC_REDIRECT_URI = "http://localhost:8787/v1/oauth/local-oidc/callback";

export interface TokenResponse {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  scope: string;
  error?: string;
}

export interface LocalOidcClient {
  /** True for the redirect to the client's callback: where a browser following the flow stops. */
  isCallback(next: URL): boolean;
  /** An authorization request for every scope, with `prompt=consent` and `login_hint=accountId`. */
  authorizationUrl(accountId: string): Promise<{ url: string; codeVerifier: string }>;
  /** A request to the token endpoint, authenticated as the client. */
  tokenRequest(params: Record<string, string>): Promise<TokenResponse>;
  /** Runs the whole authorization flow for `accountId` in `browser` and redeems the code. */
  connect(accountId: string, browser?: Browser): Promise<TokenResponse>;
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

export function localOidcClient(issuer: string): LocalOidcClient {
  const clientAuthorization = `Basic ${btoa(`${LOCAL_OIDC_CLIENT.clientId}:${LOCAL_OIDC_CLIENT.clientSecret}`)}`;
  const client: LocalOidcClient = {
    isCallback: (next) => next.href.startsWith(LOCAL_OIDC_REDIRECT_URI),
    async authorizationUrl(accountId) {
      const codeVerifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
      const codeChallenge = base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(codeVerifier))));
      const url = rewriteQuery(`${issuer}/auth`, {
        client_id: LOCAL_OIDC_CLIENT.clientId,
        response_type: "code",
        redirect_uri: LOCAL_OIDC_REDIRECT_URI,
        scope: "openid email profile offline_access api:read api:write",
        state: "state-1",
        nonce: "nonce-1",
        code_challenge: codeChallenge,
        code_challenge_method: "S256",
        prompt: "consent",
        login_hint: accountId,
      });
      return { url, codeVerifier };
    },
    async tokenRequest(params) {
      const response = await fetch(`${issuer}/token`, {
        method: "POST",
        headers: { Authorization: clientAuthorization, "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(params),
      });
      return (await response.json()) as TokenResponse;
    },
    async connect(accountId, browser = new Browser()) {
      const { url, codeVerifier } = await client.authorizationUrl(accountId);
      const { stoppedAt } = await browser.follow(url, { stopBefore: client.isCallback });
      const code = stoppedAt?.searchParams.get("code");
      if (!code) throw new Error(`no code in ${stoppedAt?.href}`);
      return client.tokenRequest({
        grant_type: "authorization_code",
        code,
        redirect_uri: LOCAL_OIDC_REDIRECT_URI,
        code_verifier: codeVerifier,
      });
    },
  };
  return client;
}
