import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { getConfig, parseConfig } from "../../src/config";
import { getProviderRegistry } from "../../src/providers/registry";
import { testBindings } from "../support/bindings";
import { mockOrigin } from "./support";

describe("provider registry", () => {
  it("lists the built-in providers, then the configured OIDC providers", () => {
    const ids = getProviderRegistry(getConfig(env))
      .list()
      .map((provider) => provider.id);
    expect(ids).toEqual(["google", "youtube", "microsoft", "notion", "local-oidc"]);
  });

  it("is built once per configuration, so discovery and key caches are shared", () => {
    expect(getProviderRegistry(getConfig(env))).toBe(getProviderRegistry(getConfig(env)));
  });

  it("lists a provider without credentials as not configured", () => {
    const bindings = testBindings({ mockProviderOrigin: mockOrigin(), oidcIssuer: inject("oidcIssuer") });
    const { NOTION_CLIENT_SECRET: _omitted, ...withoutNotion } = bindings;
    const notion = getProviderRegistry(parseConfig(withoutNotion)).get("notion");
    expect(notion?.configured).toBe(false);
  });

  it("answers undefined for an unknown provider id", () => {
    expect(getProviderRegistry(getConfig(env)).get("myspace")).toBeUndefined();
  });
});
