import { createApp } from "./app";
import { runScheduledTasks } from "./scheduled/run";

export { UserVault } from "./refresh/user-vault";

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(controller, env) {
    await runScheduledTasks(env, controller.scheduledTime);
  },
} satisfies ExportedHandler<Env>;
