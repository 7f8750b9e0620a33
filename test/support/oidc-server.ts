/**
 * A real OpenID Provider (`oidc-provider` v9) on 127.0.0.1 for flow tests and local development. Runs in Node.
 *
 * What it offers
 * - One confidential client, `LOCAL_OIDC_CLIENT` from ./bindings (client_secret_basic), code flow with PKCE S256
 *   required, refresh tokens for `offline_access` (rotated on every use: reusing a rotated refresh token revokes the
 *   whole grant, so a double spend shows up as `invalid_grant` on the next refresh), RFC 7009 revocation, RS256
 *   id_tokens carrying the scope's claims, and the RFC 9207 `iss` authorization response parameter.
 * - Scopes `openid email profile offline_access api:read api:write`. As OIDC Core §11 allows, `offline_access`
 *   is dropped from a grant unless `prompt` includes `consent`.
 * - Accounts: any id matching `[A-Za-z0-9._-]{1,64}` is an account (`sub`), given as `login_hint`, picked among the
 *   `DEMO_ACCOUNTS` on the sign-in page or typed in there. Claims (per granted scope, OIDC Core §5.4): `email` =
 *   `{sub}@example.com` and `email_verified` = true with `email`; `name` (a demo account's, else `User {sub}`) with
 *   `profile`. One browser session holds one account: an authorization request hinting another account in the same
 *   cookie jar stops at the interaction with a 409 (use a new Browser).
 * - State: in memory, or with `stateFile` in that file (./oidc-store.ts), so that a restart ends no connection.
 *
 * Interactions: the provider redirects the browser to `/interaction/{uid}` on this same server.
 * - With a `login_hint` (tests, the bench), it completes without a human: it logs the hinted account in, grants the
 *   requested scopes (minus any denied ones) and redirects back, so following redirects with a cookie jar goes
 *   authorize → interaction → authorize (resume) → client callback.
 * - Without one (a person, or a real browser in the e2e suite), it shows real pages, every time (as an account
 *   chooser does, so a second connection can be another account): a sign-in page offering the demo accounts (and the
 *   one signed in) as buttons and a form for any other ("Account", "Sign in"), then, when the grant does not cover the
 *   request yet, a consent page listing the scopes ("Allow", "Deny"). They post to `/interaction/{uid}/login`,
 *   `/confirm` and `/abort`; the account's test behaviour applies at consent as above. Picking another account than
 *   the one signed in ends that session first (oidc-provider posts a logout form that the browser submits itself).
 *
 * Control API for tests (client: ./oidc-control.ts). Key everything by an account id of your own (`login_hint`,
 * `newOidcAccount()`): test files run in parallel against this one server.
 * - `POST /__control/accounts/{sub}` with `{"deny_scopes"?: string[], "deny"?: boolean}` replaces that account's
 *   behaviour: listed scopes are refused at consent (the token response's `scope` omits them); `deny: true` ends
 *   the flow with `error=access_denied`. `{}` restores the default. Answers 204.
 * - `GET /__control/events?account={sub}` answers `{"account","counts":{type: n},"events":[{"type","at","detail"?}]}`
 *   where type is `authorization_code` / `refresh_token` (successful token grants), `token_error` (a failed grant
 *   attributable to the account; detail = the OAuth error code, e.g. `invalid_grant` on refresh token reuse),
 *   `grant_revoked` (the whole grant was revoked: reuse detection, or revocation of a refresh token) and
 *   `revocation` (a token of the account was revoked at the revocation endpoint; detail = `refresh_token` or
 *   `access_token`).
 */
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
// @ts-expect-error -- oidc-provider ships no type declarations; the few shapes used here are typed below.
import Provider, { errors as oidcErrors, interactionPolicy } from "oidc-provider";
import { z } from "zod";
import { LOCAL_OIDC_CLIENT } from "./bindings";
import { OidcStore } from "./oidc-store";

export interface OidcServerOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  accessTokenTtlSeconds?: number;
  refreshTokenTtlSeconds?: number;
  redirectUris?: string[];
  /** Keeps keys, sessions, grants and tokens in this JSON file across restarts (`npm run dev:oidc`); in memory when absent. */
  stateFile?: string;
}

export interface OidcServer {
  /** `http://127.0.0.1:{port}`, also the base of every endpoint (discovery at `/.well-known/openid-configuration`). */
  issuer: string;
  close(): Promise<void>;
}

const DEFAULT_REDIRECT_URI = "http://localhost:8787/v1/oauth/local-oidc/callback";
const DEFAULT_ACCOUNT_ID = "alice";
/** The accounts the sign-in page offers to pick; any other id can be typed in. */
export const DEMO_ACCOUNTS = [
  { id: "ada.lovelace", name: "Ada Lovelace" },
  { id: "grace.hopper", name: "Grace Hopper" },
  { id: "alan.turing", name: "Alan Turing" },
] as const;
const ACCOUNT_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const SCOPES = ["openid", "email", "profile", "offline_access", "api:read", "api:write"];
const EVENT_TYPES = ["authorization_code", "refresh_token", "token_error", "grant_revoked", "revocation"] as const;
type EventType = (typeof EVENT_TYPES)[number];

// The parts of oidc-provider's API this file touches (the package has no declarations of its own).
interface TokenOwner {
  accountId: string;
}
interface OidcRequestContext {
  route?: string;
  params: Record<string, string | undefined>;
  session?: { accountId?: string };
  /** What the interaction that just finished submitted, on the authorization request that resumes it. */
  result?: { login?: unknown };
  entities: { Account?: TokenOwner; RefreshToken?: TokenOwner; AccessToken?: TokenOwner };
}
interface KoaContext {
  status: number;
  oidc?: OidcRequestContext;
}
interface Interaction {
  uid: string;
  prompt: { name: string };
  params: Record<string, string | undefined>;
  session?: { accountId?: string };
}
interface Grant {
  addOIDCScope(scope: string): void;
  rejectOIDCScope(scope: string): void;
  save(): Promise<string>;
}
interface OidcProvider {
  Grant: new (properties: { accountId: string; clientId: string }) => Grant;
  callback(): RequestListener;
  use(middleware: (ctx: KoaContext, next: () => Promise<void>) => Promise<void>): void;
  on(event: "grant.success", listener: (ctx: { oidc: OidcRequestContext }) => void): void;
  on(event: "grant.error", listener: (ctx: { oidc: OidcRequestContext }, error: { error?: string }) => void): void;
  on(event: "grant.revoked", listener: (ctx: { oidc: OidcRequestContext }, grantId: string) => void): void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: Record<string, unknown>,
    options?: { mergeWithLastSubmission: boolean },
  ): Promise<void>;
}
interface CheckConstructor {
  new (reason: string, description: string, check: (ctx: { oidc: OidcRequestContext }) => boolean): unknown;
  REQUEST_PROMPT: boolean;
  NO_NEED_TO_PROMPT: boolean;
}
type InteractionPolicy = Array<{ name: string; checks: unknown[] }>;
const { base: basePolicy, Check } = interactionPolicy as { base(): InteractionPolicy; Check: CheckConstructor };
const { InvalidRequest } = oidcErrors as { InvalidRequest: new (description: string) => Error };
const OidcProviderClass = Provider as new (issuer: string, configuration: object) => OidcProvider;

const accountBehaviourSchema = z.strictObject({
  deny_scopes: z.array(z.string()).default([]),
  deny: z.boolean().default(false),
});
type AccountBehaviour = z.infer<typeof accountBehaviourSchema>;

interface RecordedEvent {
  type: EventType;
  at: string;
  detail?: string;
}

/** Starts the provider; resolves once it listens. */
export async function startOidcServer(options: OidcServerOptions = {}): Promise<OidcServer> {
  const behaviours = new Map<string, AccountBehaviour>();
  const events = new Map<string, RecordedEvent[]>();
  const record = (accountId: string | undefined, type: EventType, detail?: string) => {
    if (accountId === undefined) return;
    const event: RecordedEvent = { type, at: new Date().toISOString(), ...(detail === undefined ? {} : { detail }) };
    const accountEvents = events.get(accountId) ?? [];
    accountEvents.push(event);
    events.set(accountId, accountEvents);
  };

  // The issuer embeds the port, so listen first and attach the provider afterwards.
  let handleRequest: RequestListener = (_req, res) => res.writeHead(503).end();
  const server = createServer((req, res) => handleRequest(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const store = options.stateFile === undefined ? OidcStore.inMemory() : OidcStore.inFile(options.stateFile);
  const provider = new OidcProviderClass(issuer, providerConfiguration(options, store));
  provider.on("grant.success", ({ oidc }) => {
    const grantType = oidc.params.grant_type;
    if (grantType === "authorization_code" || grantType === "refresh_token") {
      record(oidc.entities.Account?.accountId, grantType);
    }
  });
  provider.on("grant.error", ({ oidc }, error) => {
    const owner = oidc.entities.Account ?? oidc.entities.RefreshToken;
    record(owner?.accountId, "token_error", error.error);
  });
  provider.on("grant.revoked", ({ oidc }) => {
    const owner = oidc.entities.RefreshToken ?? oidc.entities.AccessToken;
    record(owner?.accountId, "grant_revoked");
  });
  // oidc-provider emits no event for a successful revocation, so observe the route's outcome instead.
  provider.use(async (ctx, next) => {
    await next();
    const oidc = ctx.oidc;
    if (oidc?.route !== "revocation" || ctx.status !== 200) return;
    if (oidc.entities.RefreshToken) record(oidc.entities.RefreshToken.accountId, "revocation", "refresh_token");
    else if (oidc.entities.AccessToken) record(oidc.entities.AccessToken.accountId, "revocation", "access_token");
  });
  const handleProviderRequest = provider.callback();

  handleRequest = (req, res) => {
    const path = new URL(req.url ?? "/", issuer).pathname;
    let handled: Promise<void>;
    if (path.startsWith("/__control/")) handled = handleControl(req, res, behaviours, events);
    else if (path.startsWith("/interaction/")) handled = handleInteraction(provider, req, res, behaviours);
    else handled = Promise.resolve(handleProviderRequest(req, res));
    handled.catch((error: unknown) => {
      console.error("oidc test server:", error);
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end("internal error");
    });
  };

  return {
    issuer,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive connections from fetch clients would otherwise hold close() open.
        server.closeAllConnections();
      }),
  };
}

function providerConfiguration(options: OidcServerOptions, store: OidcStore): object {
  const policy = basePolicy();
  const loginChecks = policy.find((prompt) => prompt.name === "login")?.checks;
  // A browser that already has a session would otherwise continue silently as its first account; this check sends
  // it to the interaction, which refuses the switch (see completeInteraction).
  loginChecks?.push(
    new Check("login_hint_mismatch", "a different account was hinted", ({ oidc }) =>
      oidc.params.login_hint !== undefined && oidc.params.login_hint !== oidc.session?.accountId
        ? Check.REQUEST_PROMPT
        : Check.NO_NEED_TO_PROMPT,
    ),
  );
  // A person chooses the account on every flow, as at an account chooser: otherwise a browser that signed in once
  // would connect that account again, silently, whenever someone meant to connect another one.
  loginChecks?.push(
    new Check("account_choice", "the person chooses the account", ({ oidc }) =>
      oidc.params.login_hint === undefined && oidc.result?.login === undefined ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
    ),
  );

  return {
    clients: [
      {
        client_id: LOCAL_OIDC_CLIENT.clientId,
        client_secret: LOCAL_OIDC_CLIENT.clientSecret,
        redirect_uris: options.redirectUris ?? [DEFAULT_REDIRECT_URI],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    jwks: { keys: [store.signingKey] },
    cookies: { keys: store.cookieKeys },
    adapter: store.adapterClass(),
    scopes: SCOPES,
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    // The code flow's id_token should carry the scope's claims too (oidc-provider defaults to userinfo only).
    conformIdTokenClaims: false,
    async findAccount(_ctx: unknown, sub: string) {
      return {
        accountId: sub,
        claims: async () => ({ sub, email: `${sub}@example.com`, email_verified: true, name: accountName(sub) }),
      };
    },
    features: {
      devInteractions: { enabled: false },
      revocation: {
        enabled: true,
        // RFC 7009 §2.1: a client may revoke only tokens issued to it (oidc-provider's default, which asks to be set).
        allowedPolicy: async (_ctx: unknown, client: { clientId: string }, token: { clientId: string }) => {
          if (token.clientId !== client.clientId) throw new InvalidRequest("client is not authorized to revoke the presented token");
          return true;
        },
      },
    },
    interactions: { policy, url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    responseTypes: ["code"],
    pkce: { required: () => true },
    rotateRefreshToken: true,
    // Only server-side clients call this server, never a browser script.
    clientBasedCORS: () => false,
    ttl: {
      AccessToken: options.accessTokenTtlSeconds ?? 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: options.refreshTokenTtlSeconds ?? 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
      Interaction: 600,
      Session: 24 * 3600,
    },
  };
}

/** A hinted interaction completes on its own; any other is a person's, on the sign-in and consent pages. */
async function handleInteraction(
  provider: OidcProvider,
  req: IncomingMessage,
  res: ServerResponse,
  behaviours: Map<string, AccountBehaviour>,
): Promise<void> {
  const interaction = await provider.interactionDetails(req, res);
  const step = /^\/interaction\/[^/]+\/(login|confirm|abort)$/.exec(new URL(req.url ?? "/", "http://127.0.0.1").pathname)?.[1];
  if (req.method === "POST" && step !== undefined) return submitInteraction(provider, req, res, behaviours, interaction, step);
  if (interaction.params.login_hint !== undefined) return completeInteraction(provider, req, res, behaviours, interaction);
  const page = interaction.prompt.name === "login" ? signInPage(interaction) : consentPage(interaction);
  res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }).end(page);
}

/** Logs in the hinted account and consents on its behalf, honouring the account's test behaviour. */
async function completeInteraction(
  provider: OidcProvider,
  req: IncomingMessage,
  res: ServerResponse,
  behaviours: Map<string, AccountBehaviour>,
  { params, session }: Interaction,
): Promise<void> {
  const accountId = params.login_hint ?? session?.accountId ?? DEFAULT_ACCOUNT_ID;
  if (!ACCOUNT_ID_PATTERN.test(accountId)) {
    res.writeHead(400, { "content-type": "text/plain" }).end(`login_hint must match ${ACCOUNT_ID_PATTERN}`);
    return;
  }
  // oidc-provider answers a login as another account with a logout form to auto-submit, which the test browser
  // cannot do: refuse loudly rather than let a flow silently continue as the session's account.
  if (session?.accountId !== undefined && session.accountId !== accountId) {
    res
      .writeHead(409, { "content-type": "text/plain" })
      .end(`this browser is logged in as ${session.accountId}; use a new Browser to log in as ${accountId}`);
    return;
  }
  const behaviour = behaviours.get(accountId) ?? accountBehaviourSchema.parse({});
  if (behaviour.deny) return denyInteraction(provider, req, res);
  const grantId = await grantFor(provider, accountId, params.scope, behaviour);
  await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } });
}

/** A person's answer on the sign-in page (`login`) or the consent page (`confirm`, `abort`). */
async function submitInteraction(
  provider: OidcProvider,
  req: IncomingMessage,
  res: ServerResponse,
  behaviours: Map<string, AccountBehaviour>,
  interaction: Interaction,
  step: string,
): Promise<void> {
  if (step === "abort") return denyInteraction(provider, req, res);
  if (step === "login") {
    const accountId = (await formBody(req)).get("account")?.trim() ?? "";
    if (!ACCOUNT_ID_PATTERN.test(accountId)) {
      res
        .writeHead(400, { "content-type": "text/html; charset=utf-8" })
        .end(signInPage(interaction, "Use letters, digits, '.', '_' or '-'."));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
    return;
  }
  const accountId = interaction.session?.accountId ?? DEFAULT_ACCOUNT_ID;
  const behaviour = behaviours.get(accountId) ?? accountBehaviourSchema.parse({});
  if (behaviour.deny) return denyInteraction(provider, req, res);
  const grantId = await grantFor(provider, accountId, interaction.params.scope, behaviour);
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

/** A fresh grant per interaction keeps each flow's outcome independent of earlier ones in the same browser. */
async function grantFor(
  provider: OidcProvider,
  accountId: string,
  scope: string | undefined,
  behaviour: AccountBehaviour,
): Promise<string> {
  const requestedScopes = (scope ?? "").split(" ").filter(Boolean);
  const grantedScopes = requestedScopes.filter((requested) => !behaviour.deny_scopes.includes(requested));
  const deniedScopes = requestedScopes.filter((requested) => behaviour.deny_scopes.includes(requested));
  const grant = new provider.Grant({ accountId, clientId: LOCAL_OIDC_CLIENT.clientId });
  grant.addOIDCScope(grantedScopes.join(" "));
  if (deniedScopes.length > 0) grant.rejectOIDCScope(deniedScopes.join(" "));
  return grant.save();
}

function denyInteraction(provider: OidcProvider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return provider.interactionFinished(
    req,
    res,
    { error: "access_denied", error_description: "the end-user denied the request" },
    { mergeWithLastSubmission: false },
  );
}

async function formBody(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function interactionPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${escapeHtml(title)} · Local OpenID Provider</title>
  </head>
  <body>
    <main>
      <h1>${escapeHtml(title)}</h1>
${body}
    </main>
  </body>
</html>
`;
}

function accountName(accountId: string): string {
  return DEMO_ACCOUNTS.find((demo) => demo.id === accountId)?.name ?? `User ${accountId}`;
}

function signInPage({ uid, session }: Interaction, problem?: string): string {
  const login = `/interaction/${escapeHtml(uid)}/login`;
  const signedIn = session?.accountId;
  const choices = [
    ...(signedIn === undefined || DEMO_ACCOUNTS.some((demo) => demo.id === signedIn) ? [] : [signedIn]),
    ...DEMO_ACCOUNTS.map((demo) => demo.id),
  ];
  const choice = (accountId: string) =>
    `<li><button type="submit" name="account" value="${escapeHtml(accountId)}">${escapeHtml(accountName(accountId))} ` +
    `(${escapeHtml(accountId)}@example.com)${accountId === signedIn ? " · signed in" : ""}</button></li>`;
  return interactionPage(
    "Sign in",
    `      ${problem ? `<p role="alert">${escapeHtml(problem)}</p>` : ""}
      <p>Local OpenID Provider, for development: choose an account, or use any other id.</p>
      <form method="post" action="${login}">
        <ul>${choices.map(choice).join("")}</ul>
      </form>
      <form method="post" action="${login}">
        <label for="account">Account</label>
        <input id="account" name="account" autocomplete="username" required>
        <button type="submit">Sign in</button>
      </form>
      <form method="post" action="/interaction/${escapeHtml(uid)}/abort"><button type="submit">Cancel</button></form>`,
  );
}

function consentPage({ uid, params, session }: Interaction): string {
  const scopes = (params.scope ?? "").split(" ").filter(Boolean);
  return interactionPage(
    "Allow access?",
    `      <p>The application asks to access the account ${escapeHtml(session?.accountId ?? "")}:</p>
      <ul>${scopes.map((scope) => `<li>${escapeHtml(scope)}</li>`).join("")}</ul>
      <form method="post" action="/interaction/${escapeHtml(uid)}/confirm"><button type="submit">Allow</button></form>
      <form method="post" action="/interaction/${escapeHtml(uid)}/abort"><button type="submit">Deny</button></form>`,
  );
}

async function handleControl(
  req: IncomingMessage,
  res: ServerResponse,
  behaviours: Map<string, AccountBehaviour>,
  events: Map<string, RecordedEvent[]>,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const sendJson = (status: number, body: unknown): void => {
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  };

  const accountPath = /^\/__control\/accounts\/([^/]+)$/.exec(url.pathname);
  if (accountPath?.[1] !== undefined && req.method === "POST") {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
    } catch {
      return sendJson(400, { error: "body must be JSON" });
    }
    const parsed = accountBehaviourSchema.safeParse(body);
    if (!parsed.success) return sendJson(400, { error: z.prettifyError(parsed.error) });
    behaviours.set(decodeURIComponent(accountPath[1]), parsed.data);
    res.writeHead(204).end();
    return;
  }

  const account = url.searchParams.get("account");
  if (url.pathname === "/__control/events" && req.method === "GET" && account !== null) {
    const accountEvents = events.get(account) ?? [];
    const counts = Object.fromEntries(EVENT_TYPES.map((type) => [type, accountEvents.filter((event) => event.type === type).length]));
    return sendJson(200, { account, counts, events: accountEvents });
  }
  sendJson(404, { error: "unknown control endpoint (see test/support/oidc-server.ts)" });
}
