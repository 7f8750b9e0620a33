/** Every provider of a configuration, built once per Config object so discovery and key caches live per isolate. */
import type { Config } from "../config";
import { createGoogleProvider } from "./google";
import { createMicrosoftProvider } from "./microsoft";
import { createNotionProvider } from "./notion";
import { createOidcProvider } from "./oidc";
import type { Provider } from "./provider";
import { createYoutubeProvider } from "./youtube";

export interface ProviderRegistry {
  get(id: string): Provider | undefined;
  /** Built-in providers first, then `OIDC_PROVIDERS` in configured order; unconfigured ones included. */
  list(): Provider[];
}

const registries = new WeakMap<Config, ProviderRegistry>();

export function getProviderRegistry(config: Config): ProviderRegistry {
  let registry = registries.get(config);
  if (!registry) {
    registry = buildRegistry(config);
    registries.set(config, registry);
  }
  return registry;
}

function buildRegistry(config: Config): ProviderRegistry {
  const providers = [
    createGoogleProvider(config.providers.google),
    createYoutubeProvider(config.providers.youtube),
    createMicrosoftProvider(config.providers.microsoft),
    createNotionProvider(config.providers.notion),
    ...config.oidcProviders.map(createOidcProvider),
  ];
  const byId = new Map(providers.map((provider) => [provider.id, provider]));
  return {
    get: (id) => byId.get(id),
    list: () => [...providers],
  };
}
