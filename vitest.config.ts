import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { testBindings } from "./test/support/bindings";

// Wrangler, which the plugin uses to read wrangler.jsonc, loads a developer's `.dev.vars` and, when there is none,
// `.env` files. `.env` loading has a switch (a documented wrangler system environment variable); `.dev.vars` has
// none, so the bindings below name every configuration variable and override it (test/support/bindings.ts).
process.env.CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV = "false";

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  return {
    plugins: [
      cloudflareTest(({ inject }) => ({
        wrangler: { configPath: "./wrangler.jsonc" },
        miniflare: {
          bindings: {
            ...testBindings({ mockProviderOrigin: inject("mockProviderOrigin"), oidcIssuer: inject("oidcIssuer") }),
            TEST_MIGRATIONS: migrations,
          },
        },
      })),
    ],
    test: {
      globalSetup: ["./test/support/global-setup.ts"],
      setupFiles: ["./test/support/apply-migrations.ts"],
      include: ["test/**/*.test.ts"],
      testTimeout: 20_000,
      coverage: {
        provider: "istanbul" as const,
        include: ["src/**/*.ts", "src/**/*.tsx"],
        reporter: ["text-summary", "text"],
        thresholds: { statements: 90, branches: 90 },
      },
    },
  };
});
