/**
 * Prints a caller JWT for local development, signed with the AUTH_JWT_SECRET from `.dev.vars`:
 *   npm run token -- <user-id> [--scope "connections:token admin"] [--ttl 3600]
 * AUTH_JWT_ISSUER / AUTH_JWT_AUDIENCE from `.dev.vars` become `iss` / `aud` when set, as the Worker checks them then.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
// The same signer the tests use, so a dev token and a test token cannot drift apart.
import { callerToken } from "../test/support/caller-token";
import { parseDevVars } from "./dev-settings";

const USAGE = 'usage: npm run token -- <user-id> [--scope "connections:token admin"] [--ttl 3600]';
const DEV_VARS_PATH = path.join(import.meta.dirname, "..", ".dev.vars");

function fail(message: string): never {
  console.error(`dev-token: ${message}`);
  process.exit(1);
}

const { values, positionals } = (() => {
  try {
    return parseArgs({ allowPositionals: true, options: { scope: { type: "string" }, ttl: { type: "string" } } });
  } catch (error) {
    return fail(`${(error as Error).message}\n${USAGE}`);
  }
})();
const [userId, ...extra] = positionals;
if (userId === undefined || userId === "" || extra.length > 0) fail(USAGE);
const ttlSeconds = values.ttl === undefined ? 3600 : Number(values.ttl);
if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) fail(`--ttl must be a positive whole number of seconds\n${USAGE}`);

if (!existsSync(DEV_VARS_PATH)) fail(`${DEV_VARS_PATH} not found; create it with AUTH_JWT_SECRET=… (see the README)`);
const devVars = parseDevVars(readFileSync(DEV_VARS_PATH, "utf8"));
const secret = devVars.get("AUTH_JWT_SECRET");
if (!secret) fail(`AUTH_JWT_SECRET is not set in ${DEV_VARS_PATH}`);
const issuer = devVars.get("AUTH_JWT_ISSUER");
const audience = devVars.get("AUTH_JWT_AUDIENCE");

const token = await callerToken(userId, {
  secret,
  expiresInSeconds: ttlSeconds,
  ...(values.scope === undefined ? {} : { scope: values.scope }),
  ...(issuer ? { issuer } : {}),
  ...(audience ? { audience } : {}),
});
console.log(token);
