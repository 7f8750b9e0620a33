/**
 * The typed client (client/) is generated from `client/openapi.json`, a copy of the document the Worker serves. This
 * test keeps the copy equal to what the Worker serves now: a route whose schema changed without
 * `npm run client:generate` fails here, and `npm test` then fails on the client's types as well
 * (`openapi-typescript --check` compares `client/src/generated/openapi.ts` with what the copy generates).
 * `npm run client:generate` runs this file with `--update`, which rewrites the copy.
 */
import { describe, expect, it } from "vitest";
import { callWorker } from "../support/worker";

describe("the OpenAPI document the client is generated from", () => {
  it("is client/openapi.json, exactly as the Worker serves it (npm run client:generate refreshes both)", async () => {
    const response = await callWorker("/openapi.json");
    expect(response.status).toBe(200);
    const served = `${JSON.stringify(await response.json(), null, 2)}\n`;
    await expect(served).toMatchFileSnapshot("../../client/openapi.json");
  });
});
