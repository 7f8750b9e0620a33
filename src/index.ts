import { createApp } from "./app";
import { consumeQueueBatch } from "./queues/dispatch";
import { runScheduledTasks } from "./scheduled/run";

export { UserVault } from "./vault/user-vault";

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(controller, env) {
    await runScheduledTasks(env, controller.scheduledTime);
  },
  async queue(batch, env, ctx) {
    await consumeQueueBatch(batch, env, ctx);
  },
} satisfies ExportedHandler<Env>;
