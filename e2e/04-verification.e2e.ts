/**
 * Flow verification over real HTTP: a `wrangler dev` of its own with `CONNECT_VERIFY_URL` set (the suite's shared one
 * runs without it, as most deployments do), with a local oidc-provider of its own that knows this service's callback.
 * A user connects through a browser; the callback sends the browser to the application's verify URL and creates
 * nothing; the application verifies with its signed-in user's JWT and the connection exists. A flow verified with
 * another user's JWT (a forwarded connect link) is refused and its grant revoked at the issuer.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, type ApiClient, type Connection } from "../test/support/api-client";
import { LOCAL_OIDC_ID, testBindings } from "../test/support/bindings";
import { connectAccount } from "../test/support/connect-flow";
import { localOidcControl, newOidcAccount, type LocalOidcControl } from "../test/support/oidc-control";
import { startOidcServer, type OidcServer } from "../test/support/oidc-server";
import { expectProblem } from "../test/support/problems";
import { freePort } from "../test/support/processes";
import { newUserId } from "../test/support/users";
import { runWrangler, startWranglerDev, type WranglerDev } from "../test/support/wrangler";
import { endpoints, newBrowser, RETURN_TO_ORIGIN } from "./support/service";

/** The application's page that receives the browser after a flow: nothing needs to serve it, its URL is what counts. */
const VERIFY_URL = `${RETURN_TO_ORIGIN}/connect/verify`;

let workDir: string;
let oidcServer: OidcServer | undefined;
let wrangler: WranglerDev | undefined;
let service: ApiClient;
let issuer: LocalOidcControl;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), "ocm-e2e-verify-"));
  const persistDir = path.join(workDir, "state");
  const logFile = path.join(workDir, "wrangler.log");
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  oidcServer = await startOidcServer({ redirectUris: [`${origin}/v1/oauth/${LOCAL_OIDC_ID}/callback`] });
  await runWrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir], { workDir, logFile, timeoutMs: 60_000 });
  wrangler = await startWranglerDev({
    name: "wrangler dev (verification)",
    workDir,
    logFile,
    port,
    persistTo: persistDir,
    vars: {
      ...testBindings({ mockProviderOrigin: endpoints().mockProviderOrigin, oidcIssuer: oidcServer.issuer }),
      PUBLIC_BASE_URL: origin,
      CONNECT_VERIFY_URL: VERIFY_URL,
    },
    args: ["--local", "--live-reload=false"],
    readyPath: "/health",
  });
  service = apiClient((servicePath, init) => fetch(`${origin}${servicePath}`, init));
  issuer = localOidcControl(oidcServer.issuer);
});

afterAll(async () => {
  await wrangler?.group.stop();
  await oidcServer?.close();
  if (process.env.E2E_KEEP === "1") console.log(`e2e: kept ${workDir} (wrangler.log inside)`);
  else await rm(workDir, { recursive: true, force: true });
});

/** `userId` connects an account of its own at the issuer; returns the flow_id the callback sent the browser on with. */
async function connectUpToVerifyUrl(userId: string, account: string): Promise<string> {
  const callback = await connectAccount(service, newBrowser(), userId, LOCAL_OIDC_ID, {
    return_to: `${RETURN_TO_ORIGIN}/settings`,
    providerParams: { login_hint: account },
  });
  expect(callback.status, await callback.clone().text()).toBe(302);
  const location = new URL(callback.headers.get("location")!);
  expect(`${location.origin}${location.pathname}`).toBe(VERIFY_URL);
  return location.searchParams.get("flow_id")!;
}

function verify(userId: string, flowId: string): Promise<Response> {
  return service.call(userId, "/v1/connect-verifications", { method: "POST", body: { flow_id: flowId } });
}

async function connectionsOf(userId: string): Promise<Connection[]> {
  return (await service.json<{ connections: Connection[] }>(userId, "/v1/connections")).connections;
}

describe("connecting with CONNECT_VERIFY_URL set", () => {
  it("the callback sends the browser to the verify URL and creates nothing; the user's verification creates the connection", async () => {
    const userId = newUserId("e2e-verify");
    const account = newOidcAccount();

    const flowId = await connectUpToVerifyUrl(userId, account);

    expect(flowId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(await connectionsOf(userId)).toEqual([]);
    expect((await issuer.events(account)).counts.authorization_code).toBe(1);

    const response = await verify(userId, flowId);
    expect(response.status, await response.clone().text()).toBe(200);
    const verified = (await response.json()) as { connection: Connection; return_to?: string };
    expect(verified.return_to).toBe(`${RETURN_TO_ORIGIN}/settings`);
    expect(verified.connection).toMatchObject({ provider: LOCAL_OIDC_ID, status: "active", account: { id: account } });
    expect(await connectionsOf(userId)).toEqual([verified.connection]);
    const vended = await service.vendOk(userId, verified.connection.id);
    expect(await issuer.userinfoStatus(vended.access_token)).toBe(200);
  });

  it("a flow verified with another user's JWT answers 403, creates nothing, and its grant is revoked at the issuer", async () => {
    const sender = newUserId("e2e-verify-sender");
    const victim = newUserId("e2e-verify-victim");
    const account = newOidcAccount();
    const flowId = await connectUpToVerifyUrl(sender, account);

    await expectProblem(await verify(victim, flowId), 403, "forbidden");

    const events = await issuer.events(account);
    expect(events.counts.revocation).toBe(1);
    expect(events.counts.grant_revoked).toBeGreaterThanOrEqual(1);
    await expectProblem(await verify(sender, flowId), 404, "not-found");
    expect(await connectionsOf(sender)).toEqual([]);
    expect(await connectionsOf(victim)).toEqual([]);
  });
});
