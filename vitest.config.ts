import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { unstable_readConfig } from "wrangler";
// With its extension: Vite loads this file natively one day, and warns about extensionless imports meanwhile.
import { testBindings } from "./test/support/bindings.ts";

// Wrangler, which the plugin uses to read wrangler.jsonc, loads a developer's `.dev.vars` and, when there is none,
// `.env` files. `.env` loading has a switch (a documented wrangler system environment variable); `.dev.vars` has
// none, so the bindings below name every configuration variable and override it (test/support/bindings.ts).
process.env.CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV = "false";

interface WranglerQueueConsumer {
  queue: string;
  max_batch_size?: number;
  max_retries?: number;
  retry_delay?: number;
  dead_letter_queue?: string;
}

/**
 * The audit queue's consumer as wrangler.jsonc declares it, except that a batch is delivered as soon as a message
 * arrives: the tests see the consumer's rows without waiting out the production batch window (`max_batch_timeout`),
 * which `npm run test:e2e` exercises under `wrangler dev`.
 */
function auditConsumerDeliveringAtOnce() {
  // wrangler's declarations leave its Config type unresolved (`any`): these are the fields used here.
  const { queues } = unstable_readConfig({ config: "./wrangler.jsonc" }) as { queues: { consumers?: WranglerQueueConsumer[] } };
  const consumer = queues.consumers?.find(({ queue }) => queue === "audit-events");
  if (!consumer) throw new Error("wrangler.jsonc declares no consumer for the audit-events queue");
  return {
    "audit-events": {
      maxBatchSize: consumer.max_batch_size,
      maxBatchTimeout: 0,
      maxRetries: consumer.max_retries,
      retryDelay: consumer.retry_delay,
      deadLetterQueue: consumer.dead_letter_queue,
    },
  };
}

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  return {
    plugins: [
      cloudflareTest(({ inject }) => ({
        wrangler: { configPath: "./wrangler.jsonc" },
        // The pool runs workerd with --verbose unless told otherwise, which prints an "uncaught exception" stack trace
        // for every fetch that meets a dropped or refused connection, even one the code catches: the tests provoke
        // dozens on purpose. Unhandled rejections and test failures are still reported; the code's own logs are
        // captured by the tests that provoke them (test/support/logs.ts).
        verbose: false,
        miniflare: {
          bindings: {
            ...testBindings({ mockProviderOrigin: inject("mockProviderOrigin"), oidcIssuer: inject("oidcIssuer") }),
            TEST_MIGRATIONS: migrations,
          },
          queueConsumers: auditConsumerDeliveringAtOnce(),
          // Every lifecycle operation publishes webhook events. Where a test does not record them itself
          // (test/support/webhooks.ts), they go to a queue nothing consumes: a consumer running in the background
          // would deliver one test's events to the receivers another test subscribed in the same file's database.
          queueProducers: { WEBHOOK_QUEUE: { queueName: "webhook-deliveries-unconsumed-in-tests" } },
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
        // The client's own suite (client/vitest.config.ts) measures it; a test here that imports it must not count.
        exclude: ["client/**"],
        reporter: ["text-summary", "text"],
        thresholds: { statements: 90, branches: 90 },
      },
    },
  };
});
