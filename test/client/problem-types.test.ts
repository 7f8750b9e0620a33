/**
 * The typed client names the service's problems (client/src/problem.ts); the OpenAPI document describes only their
 * common shape, so this keeps the client's list equal to the service's own.
 */
import { describe, expect, it } from "vitest";
import { PROBLEM_TYPES } from "../../client/src/problem";
import { PROBLEMS } from "../../src/errors";

describe("the client's problem names", () => {
  it("are exactly the problems the service answers with (src/errors.ts PROBLEMS)", () => {
    expect([...PROBLEM_TYPES].sort()).toEqual(Object.keys(PROBLEMS).sort());
  });
});
