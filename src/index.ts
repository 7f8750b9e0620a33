import { createApp } from "./app";

export { UserVault } from "./refresh/user-vault";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
