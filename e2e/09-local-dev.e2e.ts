/**
 * The local set-up a newcomer starts with, driven as they would drive it: `npm run dev` refusing a port another
 * instance holds, its cron timer refreshing a connection ahead of expiry without anyone calling /__scheduled, the
 * issuer of `npm run dev:oidc` keeping its grants across a restart, and its pages letting one browser connect a
 * second account (chromium).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from "jose";
import type { Browser as Chromium } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startCronTicker } from "../scripts/dev-cron";
import { portInUse } from "../scripts/dev-port";
import { devCron } from "../scripts/dev-settings";
import type { Connection } from "../test/support/api-client";
import { LOCAL_OIDC_CLIENT, LOCAL_OIDC_ID } from "../test/support/bindings";
import { localOidcClient } from "../test/support/oidc-client";
import { newOidcAccount } from "../test/support/oidc-control";
import { startOidcServer } from "../test/support/oidc-server";
import { freePort } from "../test/support/processes";
import { newUserId } from "../test/support/users";
import { REPOSITORY_ROOT } from "../test/support/wrangler";
import { launchChromium } from "./support/chromium";
import { apiJson, auditEvents, beginConnect, connectLocalOidc, endpoints, newBrowser } from "./support/service";

let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "ocm-local-dev-"));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A listener on `port` of 127.0.0.1, as another `npm run dev` would hold it. */
async function holdPort(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return server;
}

describe("npm run dev", () => {
  it("refuses in one line, before migrating anything, when the port of PUBLIC_BASE_URL is taken, instead of moving to another", async () => {
    const port = await freePort();
    const other = await holdPort(port);
    const project = await mkdtemp(path.join(scratch, "project-"));
    await writeFile(path.join(project, ".dev.vars"), `PUBLIC_BASE_URL="http://localhost:${port}"\n`);
    try {
      // npm runs the pre-script in the package directory, with its own Node.
      const environment: NodeJS.ProcessEnv = { ...process.env };
      delete environment.NODE_OPTIONS;
      const run = spawnSync(process.execPath, [path.join(REPOSITORY_ROOT, "scripts", "prepare-dev.ts")], {
        cwd: project,
        env: environment,
        encoding: "utf8",
        timeout: 60_000,
      });

      expect(run.status).toBe(1);
      expect(run.stdout).toBe("");
      expect(run.stderr.trim().split("\n")).toEqual([expect.stringContaining(`port ${port} is already in use`)]);
      expect(run.stderr).toContain(`http://localhost:${port} (PUBLIC_BASE_URL)`);
      expect(existsSync(path.join(project, ".wrangler"))).toBe(false);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it("sees a port as free while nothing listens on it, and as taken once something does", async () => {
    const port = await freePort();
    expect(await portInUse(port)).toBe(false);
    const other = await holdPort(port);
    try {
      expect(await portInUse(port)).toBe(true);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it("fires the cron on its own: a connection at the local issuer is refreshed by the cron, no /__scheduled call by hand", async () => {
    const userId = newUserId("dev-cron");
    const { connection } = await connectLocalOidc(userId);
    const warnings: string[] = [];
    const ticker = startCronTicker({
      origin: new URL(endpoints().serviceOrigin),
      cron: await devCron(REPOSITORY_ROOT),
      intervalSeconds: 1,
      warn: (line) => warnings.push(line),
    });
    try {
      // The issuer's 15-second tokens are due once less than half of their life remains.
      const refreshed = await vi.waitFor(
        async () => {
          const [event] = await auditEvents(userId, "token.refreshed");
          if (event === undefined) throw new Error("no token.refreshed yet");
          return event;
        },
        { timeout: 45_000, interval: 1_000 },
      );
      expect(refreshed).toMatchObject({ actor: "cron", connection_id: connection.id, detail: { trigger: "cron" } });
      expect(warnings).toEqual([]);
    } finally {
      ticker.stop();
    }
  });

  it("says once, not on every tick, that the cron cannot be triggered while the service does not answer", async () => {
    let requests = 0;
    const down = createServer((_request, response) => {
      requests += 1;
      response.writeHead(503).end();
    });
    await new Promise<void>((resolve) => down.listen(0, "127.0.0.1", resolve));
    const { port } = down.address() as { port: number };
    const warnings: string[] = [];
    const ticker = startCronTicker({
      origin: new URL(`http://127.0.0.1:${port}`),
      cron: "*/5 * * * *",
      intervalSeconds: 0.05,
      warn: (line) => warnings.push(line),
    });
    try {
      await vi.waitFor(() => expect(requests).toBeGreaterThanOrEqual(3), { timeout: 5_000 });
      expect(warnings).toEqual(["dev cron: GET /__scheduled answered 503; trying again in 0.05 s"]);
    } finally {
      ticker.stop();
      await new Promise((resolve) => down.close(resolve));
    }
  });
});

describe("npm run dev:oidc", () => {
  it("keeps its grants and its signing key across a restart: a refresh token and an id_token from before still work", async () => {
    const stateFile = path.join(scratch, "dev-oidc", "state.json");
    const account = newOidcAccount();
    const first = await startOidcServer({ stateFile });
    const port = Number(new URL(first.issuer).port);
    const before = await localOidcClient(first.issuer).connect(account, newBrowser());
    await first.close();

    const second = await startOidcServer({ port, stateFile });
    try {
      const client = localOidcClient(second.issuer);
      const after = await client.tokenRequest({ grant_type: "refresh_token", refresh_token: before.refresh_token ?? "" });

      expect(after.error).toBeUndefined();
      expect(after.access_token).toMatch(/\S/);
      const jwks = (await (await fetch(`${second.issuer}/jwks`)).json()) as JSONWebKeySet;
      const { payload } = await jwtVerify(before.id_token ?? "", createLocalJWKSet(jwks), {
        issuer: second.issuer,
        audience: LOCAL_OIDC_CLIENT.clientId,
      });
      expect(payload.sub).toBe(account);
    } finally {
      await second.close();
    }
  });
});

describe("npm run dev:oidc's state file", () => {
  it("is readable by its owner only: it holds live refresh tokens and the signing key", async () => {
    const stateFile = path.join(scratch, "owner-only", "state.json");
    const server = await startOidcServer({ stateFile });
    await server.close();

    expect((await stat(stateFile)).mode & 0o777).toBe(0o600);
  });

  it("when damaged, stops with an error that names the file and quotes none of its contents", async () => {
    const stateFile = path.join(scratch, "damaged", "state.json");
    await mkdir(path.dirname(stateFile), { recursive: true });
    // A hand edit that dropped a key's quotes: JSON.parse's own message would quote the text around the fault.
    const secret = "c00kieKey";
    await writeFile(stateFile, `{"version":1,"cookieKeys":[${secret}]}`);

    const error = await startOidcServer({ stateFile }).then(
      () => null,
      (failure: unknown) => failure,
    );

    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).not.toContain(secret);
    expect((error as Error).message).toContain(stateFile);
    expect(String((error as Error).cause ?? "")).not.toContain(secret);
  });
});

describe("the local issuer's pages in a real browser", () => {
  let chromium: Chromium;

  beforeAll(async () => {
    chromium = await launchChromium();
  });

  afterAll(async () => {
    await chromium?.close();
  });

  afterEach(async () => {
    for (const context of chromium.contexts()) await context.close();
  });

  it("let one browser connect two demo accounts: the sign-in page comes again, naming the one signed in", async () => {
    const userId = newUserId("dev-accounts");
    const page = await (await chromium.newContext()).newPage();
    const connectAs = async (name: string) => {
      await page.goto((await beginConnect(userId, LOCAL_OIDC_ID)).authorization_url);
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
      const signedIn = await page.getByRole("button", { name: /signed in/ }).allInnerTexts();
      await page.getByRole("button", { name: new RegExp(`^${name} `) }).click();
      await page.getByRole("button", { name: "Allow" }).click();
      await page.waitForURL((url) => url.origin === endpoints().serviceOrigin && url.pathname.endsWith("/callback"));
      return signedIn;
    };

    expect(await connectAs("Ada Lovelace")).toEqual([]);
    expect(await connectAs("Grace Hopper")).toEqual(["Ada Lovelace (ada.lovelace@example.com) · signed in"]);

    const { connections } = await apiJson<{ connections: Connection[] }>(userId, "/v1/connections");
    expect(connections.map((connection) => connection.account.email).sort()).toEqual([
      "ada.lovelace@example.com",
      "grace.hopper@example.com",
    ]);
  });
});
