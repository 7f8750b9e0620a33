/**
 * A client of the mock providers' `/__control` API (./mock-provider-server/control.ts), in workerd and in Node:
 * scripting a flow's next answers and a mock OpenID issuer's documents, and reading what the mock issued and
 * received. Flows are keyed by the `mock_flow` id a test passes at the provider, mock issuers by the key of their
 * issuer URL (`{origin}/oidc/{key}`), so parallel tests never see each other's.
 */
import type { IssuerBehaviour, IssuerEndpoint, LoggedRequest, MockBehaviour } from "./mock-provider-server/state";

export interface MockFlowState {
  provider: string;
  refresh_tokens: { token: string; alive: boolean }[];
  access_tokens: { token: string; alive: boolean }[];
  token_requests: number;
  revocations: number;
}

/** A request as the mock logged it. */
export type MockRequest = LoggedRequest;

/** Which logged requests: a flow's, a path's, or both (the mock lists no other test's requests). */
export interface RequestFilter {
  flow?: string;
  path?: string;
}

export interface MockProviderControl {
  /** Answers for the flow's next requests at its token or revocation endpoint, in order. */
  scriptResponses(flow: string, endpoint: "token" | "revoke", responses: MockBehaviour[]): Promise<void>;
  /** Answers for the flow's next token requests (refresh grants), in order. */
  scriptTokenResponses(flow: string, responses: MockBehaviour[]): Promise<void>;
  /**
   * Ends one access token of the flow early, as a provider does after a password change: its resource endpoints
   * answer it 401, while the grant and its refresh token live on.
   */
  expireAccessToken(flow: string, accessToken: string): Promise<void>;
  /** Every token the mock issued for the flow, alive or not, and its counters. */
  flowState(flow: string): Promise<MockFlowState>;
  /** Every request the mock logged that matches `filter`, in order. */
  requests(filter: RequestFilter): Promise<MockRequest[]>;
  /**
   * Resolves once the mock has logged `count` requests for `path` (a long-poll at the mock, no polling here). By path
   * only: the mock learns a request's flow while it handles it, after the long-poll has looked.
   */
  untilReceived(path: string, count?: number): Promise<MockRequest[]>;
  /** The refresh token each refresh grant of the flow presented, in order. */
  refreshGrants(flow: string): Promise<string[]>;
  /** Answers for the mock issuer's next discovery or key set requests, in order (`hold` keeps one until released). */
  scriptIssuer(key: string, endpoint: IssuerEndpoint, responses: IssuerBehaviour[]): Promise<void>;
  /** Serves the mock issuer's discovery document with these members replaced (`null` removes one). */
  overrideDiscovery(key: string, members: Record<string, unknown>): Promise<void>;
  /** Lets the mock issuer's held requests answer as scripted. */
  releaseHeldRequests(key: string): Promise<void>;
  /** A URL of the mock's stateless endpoint that answers exactly as `answer` says (`status`, `body`, `delay_ms`, …). */
  respondUrl(answer: Record<string, string>): string;
}

/**
 * An id of its own at the mock (`label-<uuid>`), for a `mock_flow` or a mock issuer's key, so the tokens, logged
 * requests and issuer documents a test reads are its own.
 */
export function newMockId(label: string): string {
  return `${label}-${crypto.randomUUID()}`;
}

/** The control API of the mock providers listening at `origin`. */
export function mockProviderControl(origin: string): MockProviderControl {
  const control = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const response = await fetch(`${origin}/__control/${path}`, init);
    if (response.status !== 200) throw new Error(`mock control ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  const post = (path: string, body: unknown) =>
    control(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const requests = async (filter: RequestFilter, waitFor?: number) => {
    const query = new URLSearchParams({ ...filter, ...(waitFor === undefined ? {} : { wait_for: String(waitFor) }) });
    return (await control<{ requests: MockRequest[] }>(`requests?${query}`)).requests;
  };
  const scriptResponses: MockProviderControl["scriptResponses"] = async (flow, endpoint, responses) => {
    await post(`flows/${encodeURIComponent(flow)}/responses`, { endpoint, responses });
  };
  return {
    scriptResponses,
    scriptTokenResponses: (flow, responses) => scriptResponses(flow, "token", responses),
    expireAccessToken: async (flow, accessToken) => {
      await post(`flows/${encodeURIComponent(flow)}/expire-access-token`, { access_token: accessToken });
    },
    flowState: (flow) => control<MockFlowState>(`flows/${encodeURIComponent(flow)}`),
    requests: (filter) => requests(filter),
    untilReceived: async (path, count = 1) => {
      const received = await requests({ path }, count);
      if (received.length < count) throw new Error(`the mock received ${received.length} of ${count} requests for ${path}`);
      return received;
    },
    refreshGrants: async (flow) =>
      (await requests({ flow }))
        .filter((request) => request.method === "POST" && request.path.endsWith("/token"))
        .map((request) => tokenRequestFields(request.body))
        .filter((fields) => fields.grant_type === "refresh_token")
        .map((fields) => String(fields.refresh_token ?? "")),
    scriptIssuer: async (key, endpoint, responses) => {
      await post(`oidc/${encodeURIComponent(key)}/responses`, { endpoint, responses });
    },
    overrideDiscovery: async (key, members) => {
      await control(`oidc/${encodeURIComponent(key)}`, { method: "PUT", body: JSON.stringify(members) });
    },
    releaseHeldRequests: async (key) => {
      await control(`oidc/${encodeURIComponent(key)}/release`, { method: "POST" });
    },
    respondUrl: (answer) => `${origin}/__control/respond?${new URLSearchParams({ mock_flow: newMockId("respond"), ...answer })}`,
  };
}

/** The fields of a token request's body: Notion sends JSON, the others a form. */
export function tokenRequestFields(body: string): Record<string, unknown> {
  return body.trimStart().startsWith("{") ? (JSON.parse(body) as Record<string, unknown>) : Object.fromEntries(new URLSearchParams(body));
}
