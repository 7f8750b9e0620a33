/** Assertions on the service's RFC 9457 problem responses, in workerd and in Node (e2e). */
import { expect } from "vitest";

/** The URN prefix of every problem type the service answers with (src/errors.ts). */
const PROBLEM_TYPE_BASE = "urn:connection-manager:problem:";

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  [extension: string]: unknown;
}

/** Asserts an `application/problem+json` answer with `status` and the problem type `type` (e.g. `not-found`); returns its body. */
export async function expectProblem(response: Response, status: number, type: string): Promise<Problem> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  expect(response.headers.get("Content-Type")).toBe("application/problem+json");
  const body = JSON.parse(text) as Problem;
  expect(body.type).toBe(`${PROBLEM_TYPE_BASE}${type}`);
  expect(body.status).toBe(status);
  return body;
}
