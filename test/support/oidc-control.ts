/**
 * The local oidc-provider (./oidc-server.ts) seen from a test, in workerd and in Node: its `/__control` API (an
 * account's behaviour at consent, the record of what happened to it), its RFC 7009 revocation endpoint and its
 * userinfo endpoint as the issuer's verdict on an access token.
 */
import { LOCAL_OIDC_CLIENT } from "./bindings";

export interface OidcEvents {
  counts: Record<"authorization_code" | "refresh_token" | "token_error" | "grant_revoked" | "revocation", number>;
  events: { type: string; at: string; detail?: string }[];
}

/** How an account answers at consent: `deny_scopes` are refused (the token's `scope` omits them), `deny` refuses all. */
export interface AccountBehaviour {
  deny_scopes?: string[];
  deny?: boolean;
}

export interface LocalOidcControl {
  /** Replaces how `account` answers at consent (`{}` restores the default). */
  steerAccount(account: string, behaviour: AccountBehaviour): Promise<void>;
  /** What the issuer did for `account` (the `login_hint` it was connected with). */
  events(account: string): Promise<OidcEvents>;
  /** Revokes `token` as the provider's own account page would (revoking a refresh token ends the whole grant). */
  revoke(token: string, tokenTypeHint?: "refresh_token" | "access_token"): Promise<void>;
  /** The status of the userinfo endpoint for `accessToken`: 200 while the issuer honours it, 401 once it does not. */
  userinfoStatus(accessToken: string): Promise<number>;
}

/** An account of its own at the local oidc-provider (the `login_hint` it logs in), so the events a test reads are its own. */
export function newOidcAccount(): string {
  return `t-${crypto.randomUUID()}`;
}

/** The local oidc-provider at `issuer`. */
export function localOidcControl(issuer: string): LocalOidcControl {
  const discovery = async () =>
    (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as {
      userinfo_endpoint: string;
      revocation_endpoint: string;
    };
  return {
    steerAccount: async (account, behaviour) => {
      const response = await fetch(`${issuer}/__control/accounts/${encodeURIComponent(account)}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(behaviour),
      });
      if (response.status !== 204) throw new Error(`oidc control account: ${response.status} ${await response.text()}`);
    },
    events: async (account) => {
      const response = await fetch(`${issuer}/__control/events?${new URLSearchParams({ account })}`);
      if (response.status !== 200) throw new Error(`oidc control events: ${response.status} ${await response.text()}`);
      return (await response.json()) as OidcEvents;
    },
    revoke: async (token, tokenTypeHint) => {
      const response = await fetch((await discovery()).revocation_endpoint, {
        method: "POST",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          Authorization: `Basic ${btoa(`${LOCAL_OIDC_CLIENT.clientId}:${LOCAL_OIDC_CLIENT.clientSecret}`)}`,
        },
        body: new URLSearchParams({ token, ...(tokenTypeHint === undefined ? {} : { token_type_hint: tokenTypeHint }) }).toString(),
      });
      if (response.status !== 200) throw new Error(`revocation at the local oidc-provider: ${response.status} ${await response.text()}`);
    },
    userinfoStatus: async (accessToken) => {
      const response = await fetch((await discovery()).userinfo_endpoint, { headers: { Authorization: `Bearer ${accessToken}` } });
      await response.body?.cancel();
      return response.status;
    },
  };
}
