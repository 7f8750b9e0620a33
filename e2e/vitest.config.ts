/**
 * `npm run test:e2e`: the service under `wrangler dev`, driven over real HTTP from Node (global-setup.ts starts
 * everything). Files run one after another, in name order, because the cron is global: a cron run in one file
 * would refresh the connections another file is counting upstream requests for.
 */
import path from "node:path";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

class InNameOrder extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId));
  }
}

export default defineConfig({
  test: {
    root: path.resolve(import.meta.dirname, ".."),
    include: ["e2e/**/*.e2e.ts"],
    globalSetup: ["e2e/global-setup.ts"],
    environment: "node",
    fileParallelism: false,
    maxWorkers: 1,
    sequence: { sequencer: InNameOrder },
    testTimeout: 90_000,
    hookTimeout: 120_000,
    reporters: ["verbose"],
  },
});
