/**
 * The client's unit tests, in Node (`npm test` runs them before the workerd suite): the helpers' edge cases that the
 * service under `wrangler dev` cannot be made to produce on demand. The client against the real service is
 * e2e/07-client.e2e.ts.
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: import.meta.dirname,
    include: ["test/**/*.test.ts"],
    environment: "node",
    coverage: {
      provider: "istanbul",
      include: ["src/**/*.ts"],
      exclude: ["src/generated/**"],
      reporter: ["text-summary"],
      thresholds: { statements: 90, branches: 90 },
    },
  },
});
