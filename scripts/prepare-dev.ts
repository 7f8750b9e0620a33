// Makes `npm run dev` work on a fresh clone: a .dev.vars from the example, and the local D1 migrated.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("Created .dev.vars from .dev.vars.example (development values only; see README).");
}

// stdin is closed so wrangler applies without its interactive confirmation.
const migrate = spawnSync("wrangler", ["d1", "migrations", "apply", "DB", "--local"], { stdio: ["ignore", "inherit", "inherit"] });
if (migrate.status !== 0) {
  console.error("Applying the local D1 migrations failed; see the output above.");
  process.exit(migrate.status ?? 1);
}
