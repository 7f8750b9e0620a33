/**
 * `POST /v1/connections/{id}/token` (docs/http-api.md, "Vending outcomes"). A `503` comes with `Retry-After`: the
 * refresh failed transiently, or the connection is cooling down after such a failure; asking again before then only
 * gets the same answer. The call waits it out and asks again while its waits add up to at most `maxWaitSeconds`;
 * beyond that, and for every other problem, it throws the `ProblemError`.
 */
import type { Client } from "openapi-fetch";
import type { paths } from "./generated/openapi.js";
import { problemFromResponse } from "./problem.js";
import type { VendedToken, VendRequest } from "./schemas.js";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function vendToken(
  api: Client<paths>,
  connectionId: string,
  request: VendRequest,
  maxWaitSeconds: number,
): Promise<VendedToken> {
  let waitedSeconds = 0;
  for (;;) {
    const { data, error, response } = await api.POST("/v1/connections/{id}/token", {
      params: { path: { id: connectionId } },
      body: request,
    });
    if (response.ok && data !== undefined) return data;
    const problem = problemFromResponse(response, error, Date.now());
    if (problem.status !== 503 || problem.retryAfterSeconds === undefined) throw problem;
    // A `Retry-After: 0` still waits a second, so a service that keeps answering it cannot spin the loop.
    const waitSeconds = Math.max(1, problem.retryAfterSeconds);
    if (waitedSeconds + waitSeconds > maxWaitSeconds) throw problem;
    await sleep(waitSeconds * 1000);
    waitedSeconds += waitSeconds;
  }
}
