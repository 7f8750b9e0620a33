/**
 * Debian's chromium driven by playwright-core (Node only): no browser download, the machine's package (`.ci/run`
 * installs it with apt-get when it is missing). The flags keep it from dialling out on its own (updates, field
 * trials, sync): on a closed network those connections are refused, and a test must not depend on them anyway.
 * `--no-sandbox` because CI runs as root, where chromium's sandbox refuses to start.
 */
import { execFileSync } from "node:child_process";
import { chromium, type Browser } from "playwright-core";

const DEBIAN_CHROMIUM = "/usr/bin/chromium";

function chromiumPath(): string {
  try {
    return execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim() || DEBIAN_CHROMIUM;
  } catch {
    return DEBIAN_CHROMIUM;
  }
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
