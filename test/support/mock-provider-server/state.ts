/** The mock providers' memory: flows (one authorization and the grant it created), codes, tokens, request log. */
import { randomBytes, randomUUID } from "node:crypto";
import type { MockProviderKind } from "./clients";

/** Who signs in. Tests override any field with `mock_account` (JSON) on the authorization URL. */
export interface MockAccount {
  sub: string;
  email: string;
  email_verified: boolean;
  name: string;
  /** Microsoft tenant and object ids. */
  tid: string;
  oid: string;
  /**
   * Microsoft's optional claim "email domain owner verified" as the id_token should carry it (a JSON value, so a
   * test can also send a wrong type). Absent by default, as when the app registration does not request it.
   */
  xms_edov?: unknown;
  /** YouTube channel; `null` = the Google account has no channel. */
  channel: { id: string; title: string } | null;
  /** Notion: `owner.type` of the token response, the workspace and the person (another value: an owner of that bare type). */
  owner: "user" | "workspace" | (string & {});
  workspace_id: string;
  workspace_name: string;
  user_id: string;
}

export const DEFAULT_ACCOUNT: MockAccount = {
  sub: "108234567890123456789",
  email: "ava@example.com",
  email_verified: true,
  name: "Ava Example",
  tid: "72f988bf-86f1-41af-91ab-2d7cd011db47",
  oid: "6f1c3a52-0c1e-4c3b-9a57-1d2c3b4a5e6f",
  channel: { id: "UCmockChannel0000000000a", title: "Ava's Channel" },
  owner: "user",
  workspace_id: "0f5a8a3e-7b1c-4d7e-9a51-3c2b1a0e9d8f",
  workspace_name: "Acme",
  user_id: "3b1e8c2a-5d4f-4a6b-8c9d-0e1f2a3b4c5d",
};

/** How the next token (or revocation) request of a flow is answered; absent fields mean "as the provider would". */
export interface MockBehaviour {
  failure?:
    | "invalid_grant"
    | "invalid_client"
    | "invalid_request"
    | "unauthorized_client"
    | "temporarily_unavailable"
    | "rate_limited"
    | "server_error_html"
    | "delay"
    | "drop"
    | "malformed_json"
    | "missing_access_token";
  /** HTTP status instead of the provider's usual one for that failure. */
  status?: number;
  /** `delay`: milliseconds before answering normally (default 15000, beyond the client's 10 s timeout). */
  delay_ms?: number;
  /** `rate_limited` (and any failure): the `Retry-After` value; `rate_limited` defaults to "30". */
  retry_after?: string;
  /** Success: `expires_in` to send instead of the provider's usual value (a string is sent as a string; Notion sends none unless scripted). */
  expires_in?: number | string;
  /** Success: leave `scope` out of the response (RFC 6749 §5.1 lets a server omit it when unchanged). */
  omit_scope?: boolean;
  /**
   * Refresh grants with `delay` or `drop`: the provider performs the refresh first (Notion kills the old refresh
   * token, new tokens are issued) and only then is the response lost, as when a reply goes missing on the way back.
   * Without it the mock fails before doing anything.
   */
  after_rotation?: boolean;
}

/**
 * How an OIDC issuer key's next discovery or key set request is answered (`POST /__control/oidc/<key>/responses`).
 * `hold`: the request waits, as a provider that never answers would keep it, until the test releases the key's held
 * requests (`POST /__control/oidc/<key>/release`) or the client gives up; then it is answered as `status` says.
 */
export interface IssuerBehaviour {
  /** Status to answer instead of the document (a JSON error body), e.g. 404 or 503; default 200. */
  status?: number;
  hold?: boolean;
}

export type IssuerEndpoint = "discovery" | "jwks";

/** id_token manipulation chosen with `mock_id_token` on the authorization URL. */
export type IdTokenTamper =
  | "wrong_aud"
  | "wrong_iss"
  | "wrong_nonce"
  | "expired"
  | "stale_iat"
  | "bad_signature"
  | "unknown_kid"
  | "alg_none"
  | "alg_hs256"
  | "es256"
  | "multi_aud_without_azp"
  | "multi_aud_with_azp";

export interface MockFlow {
  id: string;
  provider: MockProviderKind;
  /** Microsoft tenant path segment or OIDC issuer key; the provider id otherwise. */
  realm: string;
  clientId: string;
  account: MockAccount;
  /** Scopes the user really granted, in request notation. */
  grantedScopes: string[];
  /**
   * Google's grant the flow's tokens belong to (`mock_grant`): Google keeps one grant per OAuth client and account,
   * so Google and YouTube flows of one account share it. `null`: a grant of the flow's own.
   */
  grant: string | null;
  idTokenTamper: IdTokenTamper | null;
  queued: { token: MockBehaviour[]; revoke: MockBehaviour[] };
  refreshTokens: Map<string, { alive: boolean }>;
  accessTokens: Map<string, { alive: boolean }>;
  revocations: number;
  tokenRequests: number;
}

export interface CodeGrant {
  flowId: string;
  redirectUri: string;
  codeChallenge: string | null;
  codeChallengeMethod: string | null;
  nonce: string | null;
  used: boolean;
  expiresAt: number;
}

export interface LoggedRequest {
  at: string;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
  /** The flow the request belongs to, once known (code, token or `mock_flow`). */
  flow: string | null;
}

const MAX_LOGGED_REQUESTS = 10_000;

export class MockState {
  readonly flows = new Map<string, MockFlow>();
  readonly codes = new Map<string, CodeGrant>();
  /** Token value → flow id, for refresh and access tokens alike. */
  readonly tokenOwners = new Map<string, string>();
  /** Scripts queued before the flow exists (tests may script a flow before authorizing). */
  readonly pendingQueues = new Map<string, MockFlow["queued"]>();
  /** Discovery document overrides per OIDC issuer key. */
  readonly discoveryOverrides = new Map<string, Record<string, unknown>>();
  /** Scripted answers per OIDC issuer key for its next discovery and key set requests, in order. */
  readonly issuerQueues = new Map<string, Record<IssuerEndpoint, IssuerBehaviour[]>>();
  /** Requests held per OIDC issuer key; calling one lets it answer. */
  readonly heldRequests = new Map<string, (() => void)[]>();
  readonly log: LoggedRequest[] = [];
  /** Called after each logged request (long-polls of the control API waiting for a request to arrive). */
  readonly #logListeners = new Set<() => void>();

  createFlow(fields: Omit<MockFlow, "queued" | "refreshTokens" | "accessTokens" | "revocations" | "tokenRequests">): MockFlow {
    const flow: MockFlow = {
      ...fields,
      queued: this.queuesFor(fields.id),
      refreshTokens: new Map(),
      accessTokens: new Map(),
      revocations: 0,
      tokenRequests: 0,
    };
    this.pendingQueues.delete(fields.id);
    this.flows.set(flow.id, flow);
    return flow;
  }

  /** The flow's response queues, created on first use so a test can script before it authorizes. */
  queuesFor(flowId: string): MockFlow["queued"] {
    const existing = this.flows.get(flowId)?.queued ?? this.pendingQueues.get(flowId);
    if (existing) return existing;
    const queued = { token: [], revoke: [] };
    this.pendingQueues.set(flowId, queued);
    return queued;
  }

  flowOfToken(token: string): MockFlow | undefined {
    const flowId = this.tokenOwners.get(token);
    return flowId === undefined ? undefined : this.flows.get(flowId);
  }

  issueToken(flow: MockFlow, kind: "access" | "refresh", prefix: string): string {
    const token = `${prefix}${randomBytes(24).toString("base64url")}`;
    (kind === "access" ? flow.accessTokens : flow.refreshTokens).set(token, { alive: true });
    this.tokenOwners.set(token, flow.id);
    return token;
  }

  /** Ends the whole grant, as Google and Notion do when any of its tokens is revoked: every flow sharing it too. */
  revokeGrant(flow: MockFlow): void {
    const sharing = flow.grant === null ? [flow] : [...this.flows.values()].filter((other) => other.grant === flow.grant);
    for (const ended of sharing) {
      for (const entry of [...ended.refreshTokens.values(), ...ended.accessTokens.values()]) entry.alive = false;
    }
    flow.revocations += 1;
  }

  record(entry: LoggedRequest): void {
    this.log.push(entry);
    if (this.log.length > MAX_LOGGED_REQUESTS) this.log.splice(0, this.log.length - MAX_LOGGED_REQUESTS);
    for (const listener of this.#logListeners) listener();
  }

  /** Resolves once `matches` holds for the log, or after `timeoutMs` (the caller then sees what there is). */
  untilLogged(matches: (log: readonly LoggedRequest[]) => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#logListeners.delete(check);
        resolve();
      };
      const check = () => {
        if (matches(this.log)) done();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#logListeners.add(check);
      check();
    });
  }

  issuerQueue(key: string): Record<IssuerEndpoint, IssuerBehaviour[]> {
    let queue = this.issuerQueues.get(key);
    if (!queue) {
      queue = { discovery: [], jwks: [] };
      this.issuerQueues.set(key, queue);
    }
    return queue;
  }

  /** Waits until the key's held requests are released; resolves false if the client went away first. */
  hold(key: string, clientGone: Promise<void>): Promise<boolean> {
    return new Promise((resolve) => {
      const release = () => resolve(true);
      this.heldRequests.set(key, [...(this.heldRequests.get(key) ?? []), release]);
      void clientGone.then(() => {
        this.heldRequests.set(
          key,
          (this.heldRequests.get(key) ?? []).filter((held) => held !== release),
        );
        resolve(false);
      });
    });
  }

  /** Lets every held request of the key answer; returns how many there were. */
  release(key: string): number {
    const held = this.heldRequests.get(key) ?? [];
    this.heldRequests.delete(key);
    for (const release of held) release();
    return held.length;
  }
}

export function newFlowId(): string {
  return randomUUID();
}
