import { errors, exportJWK, generateKeyPair, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { CallerKeys, CallerKeysUnavailable, fetchKeySet } from "../../src/middleware/caller-keys";
import { captureLogs } from "../support/logs";
import { mockProvider } from "../support/toolkit";

const T0 = 1_800_000_000_000;
const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const TIMEOUT_MS = 1500;
let first: JWK;
let rotated: JWK;

/** Key sets served by the mock: what the endpoint publishes is switched by the test, and every fetch is counted. */
function servedKeys(initial: Record<string, string>): {
  keys: CallerKeys;
  serve: (answer: Record<string, string>) => void;
  fetches: () => number;
} {
  let answer = initial;
  let fetches = 0;
  const keys = new CallerKeys(() => {
    fetches += 1;
    return fetchKeySet(mockProvider.respondUrl(answer), TIMEOUT_MS);
  }, TIMEOUT_MS);
  return { keys, serve: (next) => (answer = next), fetches: () => fetches };
}

function publishing(...jwks: JWK[]): Record<string, string> {
  return { body: JSON.stringify({ keys: jwks }) };
}

const DOWN = { status: "503", body: "" };

beforeAll(async () => {
  const make = async (kid: string) => ({ ...(await exportJWK((await generateKeyPair("RS256")).publicKey)), kid, alg: "RS256", use: "sig" });
  first = await make("first");
  rotated = await make("rotated");
});

describe("the caller key set cache", () => {
  it("refetches for a kid it does not hold and finds a key published since (rotation)", async () => {
    const { keys, serve, fetches } = servedKeys(publishing(first));
    await keys.keyFor({ alg: "RS256", kid: "first" }, T0);
    serve(publishing(first, rotated));
    await expect(keys.keyFor({ alg: "RS256", kid: "rotated" }, T0 + MINUTE_MS)).resolves.toBeDefined();
    expect(fetches()).toBe(2);
  });

  it("asks the endpoint about unknown kids at most once per 30 seconds, and refuses them meanwhile", async () => {
    const { keys, fetches } = servedKeys(publishing(first));
    await keys.keyFor({ alg: "RS256", kid: "first" }, T0);
    await expect(keys.keyFor({ alg: "RS256", kid: "forged-1" }, T0 + SECOND_MS)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    await expect(keys.keyFor({ alg: "RS256", kid: "forged-2" }, T0 + 20 * SECOND_MS)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    expect(fetches()).toBe(2);
    await expect(keys.keyFor({ alg: "RS256", kid: "forged-3" }, T0 + 32 * SECOND_MS)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    expect(fetches()).toBe(3);
  });

  it("serves the last good set for an hour while refetches fail, asking at most every 30 seconds, then is unavailable", async () => {
    const { keys, serve, fetches } = servedKeys(publishing(first));
    await keys.keyFor({ alg: "RS256", kid: "first" }, T0);
    const warnings = captureLogs("warn");
    serve(DOWN);
    await expect(keys.keyFor({ alg: "RS256", kid: "first" }, T0 + 11 * MINUTE_MS)).resolves.toBeDefined();
    await expect(keys.keyFor({ alg: "RS256", kid: "first" }, T0 + 11 * MINUTE_MS + 10 * SECOND_MS)).resolves.toBeDefined();
    expect(fetches()).toBe(2);
    await expect(keys.keyFor({ alg: "RS256", kid: "first" }, T0 + 59 * MINUTE_MS)).resolves.toBeDefined();
    await expect(keys.keyFor({ alg: "RS256", kid: "first" }, T0 + 60 * MINUTE_MS)).rejects.toBeInstanceOf(CallerKeysUnavailable);
    // One line per failed fetch, with the status only: what the endpoint answered is not for the log.
    expect(warnings.lines()).toEqual(
      Array(fetches() - 1).fill({ message: "caller key set unavailable", error: "KeySetStatusError", status: 503 }),
    );
  });

  it("recovers once the endpoint answers again", async () => {
    const warnings = captureLogs("warn");
    const { keys, serve } = servedKeys(DOWN);
    await expect(keys.keyFor({ alg: "RS256", kid: "first" }, T0)).rejects.toBeInstanceOf(CallerKeysUnavailable);
    serve(publishing(first));
    await expect(keys.keyFor({ alg: "RS256", kid: "first" }, T0 + 10 * SECOND_MS)).rejects.toBeInstanceOf(CallerKeysUnavailable);
    await expect(keys.keyFor({ alg: "RS256", kid: "first" }, T0 + 30 * SECOND_MS)).resolves.toBeDefined();
    expect(warnings.messages()).toEqual(["caller key set unavailable"]);
  });

  it("refreshes a set older than 10 minutes", async () => {
    const { keys, serve } = servedKeys(publishing(first));
    await keys.keyFor({ alg: "RS256", kid: "first" }, T0);
    serve(publishing(rotated));
    await expect(keys.keyFor({ alg: "RS256", kid: "first" }, T0 + 9 * MINUTE_MS)).resolves.toBeDefined();
    await expect(keys.keyFor({ alg: "RS256", kid: "first" }, T0 + 10 * MINUTE_MS)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
  });
});
