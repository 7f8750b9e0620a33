/**
 * Starts the whole service as a developer would run it, once per `npm run test:e2e`:
 *   1. the local `oidc-provider` (short access-token lifetime, so refreshes after a real expiry happen) and the
 *      mock Google/Microsoft/Notion endpoints, in this process, on 127.0.0.1;
 *   2. `wrangler d1 migrations apply DB --local` into a fresh temporary persistence directory;
 *   3. `wrangler dev` (local D1, KV, Durable Objects, `--test-scheduled`) on a free port, every binding passed with
 *      `--var` and an empty `--env-file`, so a developer's `.dev.vars` or `.env` never leaks in.
 * Teardown stops wrangler's whole process group and both servers and deletes the directory (E2E_KEEP=1 keeps it,
 * with wrangler's log, for a post-mortem). Signals and an unexpected exit also stop wrangler (support/processes.ts).
 */
import { rmSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { LOCAL_OIDC_ID, testBindings } from "../test/support/bindings";
import { startMockProviders, type MockProviders } from "../test/support/mock-providers";
import { startOidcServer, type OidcServer } from "../test/support/oidc-server";
import { ACCESS_TOKEN_TTL_SECONDS, UPSTREAM_TIMEOUT_MS, type E2eEndpoints } from "./support/endpoints";
import { freePort, onAbnormalExit, runToCompletion, spawnGroup, stopGroup, type Spawned } from "./support/processes";

const ROOT = path.resolve(import.meta.dirname, "..");
const WRANGLER = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const STARTUP_TIMEOUT_MS = 90_000;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const workDir = await mkdtemp(path.join(tmpdir(), "ocm-e2e-"));
  const persistDir = path.join(workDir, "state");
  const logFile = path.join(workDir, "wrangler.log");
  const emptyEnvFile = path.join(workDir, "empty.env");
  await writeFile(emptyEnvFile, "");

  const keep = process.env.E2E_KEEP === "1";
  // Ctrl-C or a crash skips teardown: the process groups are killed and the directory removed synchronously.
  const forget = onAbnormalExit(() => {
    if (!keep) rmSync(workDir, { recursive: true, force: true });
  });

  let mockProviders: MockProviders | undefined;
  let oidcServer: OidcServer | undefined;
  let wrangler: Spawned | undefined;
  const teardown = async () => {
    forget();
    if (wrangler) await stopGroup(wrangler);
    await Promise.allSettled([mockProviders?.close(), oidcServer?.close()]);
    if (keep) console.log(`e2e: kept ${workDir} (wrangler.log inside)`);
    else await rm(workDir, { recursive: true, force: true });
  };

  try {
    const port = await freePort();
    const serviceOrigin = `http://127.0.0.1:${port}`;
    [mockProviders, oidcServer] = await Promise.all([
      startMockProviders(),
      startOidcServer({
        accessTokenTtlSeconds: ACCESS_TOKEN_TTL_SECONDS,
        redirectUris: [`${serviceOrigin}/v1/oauth/${LOCAL_OIDC_ID}/callback`],
      }),
    ]);
    const bindings = {
      ...testBindings({ mockProviderOrigin: mockProviders.origin, oidcIssuer: oidcServer.issuer }),
      PUBLIC_BASE_URL: serviceOrigin,
      UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS),
    };

    const env = wranglerEnvironment(workDir);
    const spawnOptions = { cwd: ROOT, env, logFile };
    await runToCompletion(process.execPath, [WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir], {
      ...spawnOptions,
      timeoutMs: 60_000,
    });
    const inspectorPort = await freePort();
    wrangler = spawnGroup(
      process.execPath,
      [
        WRANGLER,
        "dev",
        "--local",
        "--ip",
        "127.0.0.1",
        "--port",
        String(port),
        "--inspector-port",
        String(inspectorPort),
        "--persist-to",
        persistDir,
        "--env-file",
        emptyEnvFile,
        "--test-scheduled",
        "--show-interactive-dev-session=false",
        "--live-reload=false",
        // `--var NAME:VALUE` splits at the first colon only, so URLs and JSON pass intact.
        ...Object.entries(bindings).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
      ],
      spawnOptions,
    );
    await waitUntilServing(serviceOrigin, wrangler);

    const endpoints: E2eEndpoints = { serviceOrigin, mockProviderOrigin: mockProviders.origin, oidcIssuer: oidcServer.issuer };
    project.provide("e2e", endpoints);
    console.log(`e2e: wrangler dev on ${serviceOrigin}, oidc-provider ${oidcServer.issuer}, mock providers ${mockProviders.origin}`);
    return teardown;
  } catch (error) {
    await teardown();
    throw error;
  }
}

/** The parent's environment without what would change wrangler's behaviour or reach the network. */
function wranglerEnvironment(workDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // vitest's loader hooks must not reach wrangler's Node; process.env must not become Worker secrets.
  delete env.NODE_OPTIONS;
  delete env.CLOUDFLARE_INCLUDE_PROCESS_ENV;
  return {
    ...env,
    CI: "true",
    NO_COLOR: "1",
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_LOG_PATH: path.join(workDir, "wrangler-logs"),
    CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "false",
  };
}

/** Polls `/health` until the Worker answers; fails early, with wrangler's last lines, when wrangler exits. */
async function waitUntilServing(origin: string, wrangler: Spawned): Promise<void> {
  let exitCode: number | string | null = null;
  void wrangler.exited.then((code) => (exitCode = code));
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exitCode !== null) throw new Error(`wrangler dev exited (${exitCode}) before serving:\n${wrangler.tail()}`);
    try {
      const response = await fetch(`${origin}/health`, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) return;
      await response.body?.cancel();
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`wrangler dev did not answer ${origin}/health within ${STARTUP_TIMEOUT_MS / 1000} s:\n${wrangler.tail()}`);
}
