import { createApp } from "./app";
import { AUDIT_EVENTS_QUEUE, consumeAuditEvents, consumeDeadAuditEvents, DEAD_AUDIT_EVENTS_QUEUE } from "./audit/audit-queue";
import { runScheduledTasks } from "./scheduled/run";

export { UserVault } from "./vault/user-vault";

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(controller, env) {
    await runScheduledTasks(env, controller.scheduledTime);
  },
  async queue(batch, env, ctx) {
    switch (batch.queue) {
      case AUDIT_EVENTS_QUEUE:
        return consumeAuditEvents(batch, env, ctx);
      case DEAD_AUDIT_EVENTS_QUEUE:
        return consumeDeadAuditEvents(batch, env, ctx);
      default:
        // A queue wired to this Worker in wrangler.jsonc that nothing here consumes: throwing retries its messages
        // as that queue is configured to, instead of acknowledging work nobody did.
        throw new Error(`no consumer for queue ${batch.queue}`);
    }
  },
} satisfies ExportedHandler<Env>;
