// Makes `npm run dev` work on a fresh clone: a .dev.vars from the example, the port of PUBLIC_BASE_URL free, and the
// local D1 migrated. Runs in the package directory (npm's pre-script).
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import { portInUse, portTakenMessage } from "./dev-port.ts";
import { DEV_VARS_FILE, devOrigin, portOf } from "./dev-settings.ts";

if (!existsSync(DEV_VARS_FILE)) {
  copyFileSync(".dev.vars.example", DEV_VARS_FILE);
  console.log("Created .dev.vars from .dev.vars.example (development values only; see README).");
}

// Before anything else runs: a second `npm run dev` stops here, in one line, instead of serving on another port.
const origin = await devOrigin(process.cwd());
const port = portOf(origin);
if (await portInUse(port)) {
  console.error(portTakenMessage(origin, port));
  process.exit(1);
}

// stdin is closed so wrangler applies without its interactive confirmation.
const migrate = spawnSync("wrangler", ["d1", "migrations", "apply", "DB", "--local"], { stdio: ["ignore", "inherit", "inherit"] });
if (migrate.status !== 0) {
  console.error("Applying the local D1 migrations failed; see the output above.");
  process.exit(migrate.status ?? 1);
}
