/**
 * A client of the mock providers' `/__control` API (./mock-provider-server/control.ts), in workerd and in Node:
 * scripting a flow's next answers and reading what the mock issued and received. Flows are keyed by the `mock_flow`
 * id a test passes at the provider, so parallel tests never see each other's.
 */
import type { MockBehaviour } from "./mock-provider-server/state";

export interface MockFlowState {
  provider: string;
  refresh_tokens: { token: string; alive: boolean }[];
  access_tokens: { token: string; alive: boolean }[];
  token_requests: number;
  revocations: number;
}

export interface MockRequest {
  method: string;
  path: string;
  body: string;
}

export interface MockProviderControl {
  /** Answers for the flow's next token requests (refresh grants), in order. */
  scriptTokenResponses(flow: string, responses: MockBehaviour[]): Promise<void>;
  /** Every token the mock issued for the flow, alive or not, and its counters. */
  flowState(flow: string): Promise<MockFlowState>;
  /** Every request the mock logged for the flow, in order. */
  requests(flow: string): Promise<MockRequest[]>;
  /** The refresh token each refresh grant of the flow presented, in order. */
  refreshGrants(flow: string): Promise<string[]>;
}

/** The control API of the mock providers listening at `origin`. */
export function mockProviderControl(origin: string): MockProviderControl {
  const control = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const response = await fetch(`${origin}/__control/${path}`, init);
    if (response.status !== 200) throw new Error(`mock control ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  const requests = async (flow: string) =>
    (await control<{ requests: MockRequest[] }>(`requests?${new URLSearchParams({ flow })}`)).requests;
  return {
    scriptTokenResponses: async (flow, responses) => {
      await control(`flows/${encodeURIComponent(flow)}/responses`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ endpoint: "token", responses }),
      });
    },
    flowState: (flow) => control<MockFlowState>(`flows/${encodeURIComponent(flow)}`),
    requests,
    refreshGrants: async (flow) =>
      (await requests(flow))
        .filter((request) => request.method === "POST" && request.path.endsWith("/token"))
        .map((request) => formFields(request.body))
        .filter((fields) => fields.grant_type === "refresh_token")
        .map((fields) => String(fields.refresh_token ?? "")),
  };
}

/** A token request's fields: Notion sends JSON, the others a form. */
function formFields(body: string): Record<string, unknown> {
  return body.trimStart().startsWith("{") ? (JSON.parse(body) as Record<string, unknown>) : Object.fromEntries(new URLSearchParams(body));
}
