/**
 * Starts the whole service as a developer would run it, once per `npm run test:e2e`:
 *   1. the local `oidc-provider` (short access-token lifetime, so refreshes after a real expiry happen), the
 *      mock Google/Microsoft/Notion endpoints and two stand-ins for an application's frontend (the connect page's
 *      popup openers: one listed in CORS_ORIGINS and RETURN_TO_ORIGINS, one not), in this process, on 127.0.0.1;
 *   2. `wrangler d1 migrations apply DB --local` into a fresh temporary persistence directory;
 *   3. `wrangler dev` (local D1, KV, Durable Objects, `--test-scheduled`) on a free port, every binding passed with
 *      `--var` and an empty `--env-file`, so a developer's `.dev.vars` or `.env` never leaks in.
 * Teardown stops wrangler's whole process group and the servers and deletes the directory (E2E_KEEP=1 keeps it,
 * with wrangler's log, for a post-mortem). Signals and an unexpected exit also stop wrangler (test/support/processes.ts).
 */
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { LOCAL_OIDC_ID, testBindings } from "../test/support/bindings";
import { startMockProviders, type MockProviders } from "../test/support/mock-providers";
import { startOidcServer, type OidcServer } from "../test/support/oidc-server";
import { freePort, onAbnormalExit } from "../test/support/processes";
import { runWrangler, startWranglerDev, type WranglerDev } from "../test/support/wrangler";
import { startAppFrontend, type AppFrontend } from "./support/app-frontend";
import { ACCESS_TOKEN_TTL_SECONDS, UPSTREAM_TIMEOUT_MS, type E2eEndpoints } from "./support/endpoints";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const workDir = await mkdtemp(path.join(tmpdir(), "ocm-e2e-"));
  const persistDir = path.join(workDir, "state");
  const logFile = path.join(workDir, "wrangler.log");

  const keep = process.env.E2E_KEEP === "1";
  // Ctrl-C or a crash skips teardown: the process groups are stopped and the directory removed synchronously.
  const forget = onAbnormalExit(() => {
    if (!keep) rmSync(workDir, { recursive: true, force: true });
  });

  let mockProviders: MockProviders | undefined;
  let oidcServer: OidcServer | undefined;
  let appFrontend: AppFrontend | undefined;
  let otherSite: AppFrontend | undefined;
  let wrangler: WranglerDev | undefined;
  const teardown = async () => {
    forget();
    await wrangler?.group.stop();
    await Promise.allSettled([mockProviders?.close(), oidcServer?.close(), appFrontend?.close(), otherSite?.close()]);
    if (keep) console.log(`e2e: kept ${workDir} (wrangler.log inside)`);
    else await rm(workDir, { recursive: true, force: true });
  };

  try {
    const port = await freePort();
    const serviceOrigin = `http://127.0.0.1:${port}`;
    [mockProviders, oidcServer, appFrontend, otherSite] = await Promise.all([
      startMockProviders(),
      startOidcServer({
        accessTokenTtlSeconds: ACCESS_TOKEN_TTL_SECONDS,
        redirectUris: [`${serviceOrigin}/v1/oauth/${LOCAL_OIDC_ID}/callback`],
      }),
      startAppFrontend(),
      startAppFrontend(),
    ]);
    const base = testBindings({ mockProviderOrigin: mockProviders.origin, oidcIssuer: oidcServer.issuer });
    const bindings = {
      ...base,
      PUBLIC_BASE_URL: serviceOrigin,
      UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS),
      // The application's frontend may open the connect page as a popup (opener_origin) and be returned to.
      CORS_ORIGINS: `${base.CORS_ORIGINS},${appFrontend.origin}`,
      RETURN_TO_ORIGINS: `${base.RETURN_TO_ORIGINS},${appFrontend.origin}`,
    };

    await runWrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir], { workDir, logFile, timeoutMs: 60_000 });
    wrangler = await startWranglerDev({
      name: "wrangler dev",
      workDir,
      logFile,
      port,
      persistTo: persistDir,
      vars: bindings,
      args: ["--local", "--test-scheduled", "--live-reload=false"],
      readyPath: "/health",
    });

    const endpoints: E2eEndpoints = {
      serviceOrigin,
      mockProviderOrigin: mockProviders.origin,
      oidcIssuer: oidcServer.issuer,
      appOrigin: appFrontend.origin,
      otherSiteOrigin: otherSite.origin,
    };
    project.provide("e2e", endpoints);
    console.log(`e2e: wrangler dev on ${serviceOrigin}, oidc-provider ${oidcServer.issuer}, mock providers ${mockProviders.origin}`);
    return teardown;
  } catch (error) {
    await teardown();
    throw error;
  }
}
