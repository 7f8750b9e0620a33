import { createApp } from "./app";
import { runScheduledTasks } from "./scheduled/run";

export { UnverifiedFlow } from "./vault/unverified-flow";
export { UserVault } from "./vault/user-vault";

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(controller, env) {
    await runScheduledTasks(env, controller.scheduledTime);
  },
} satisfies ExportedHandler<Env>;
