/**
 * Tests take their configuration from the test set-up alone. The vitest plugin builds the Worker's bindings from
 * wrangler.jsonc and also reads a developer's `.dev.vars` (or `.env`) next to it, with no option to stop it; the
 * bindings of vitest.config.ts override those files, so they must name every variable the configuration reads.
 */
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { parseConfig } from "../../src/config";
import { testBindings } from "./bindings";

const bindings = testBindings({ mockProviderOrigin: inject("mockProviderOrigin"), oidcIssuer: inject("oidcIssuer") });

/** Every variable `parseConfig` reads from `values` (which provider secrets it reads depends on OIDC_PROVIDERS). */
function namesReadByConfig(values: Record<string, string>): string[] {
  const read = new Set<string>();
  parseConfig(
    new Proxy(values, {
      get(target, name) {
        if (typeof name === "string") read.add(name);
        return Reflect.get(target, name);
      },
    }),
  );
  return [...read];
}

describe("the Worker's bindings in tests", () => {
  it("name every variable the configuration reads, so no local .dev.vars or .env value can reach the Worker", () => {
    expect(namesReadByConfig(bindings).filter((name) => !(name in bindings))).toEqual([]);
  });

  it("are the test set-up's values inside workerd, whatever local files hold", () => {
    const inWorkerd = Object.fromEntries(Object.keys(bindings).map((name) => [name, Reflect.get(env, name)]));
    expect(inWorkerd).toEqual(bindings);
  });
});
