/**
 * Child processes of the end-to-end run. Each one is spawned in its own process group (`detached`), so stopping it
 * also stops what it started (wrangler starts workerd). Every group is stopped on teardown, on SIGINT/SIGTERM/SIGHUP
 * and, as a last resort, synchronously when this Node process exits.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { createServer } from "node:net";

const running = new Set<ChildProcess>();
const STOP_GRACE_MS = 5_000;

/** Sends `signal` to the child's whole process group; false when the group is already gone. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): boolean {
  if (child.pid === undefined) return false;
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Synchronous clean-ups (deleting the temporary directory) for when teardown never gets to run. */
const lastResorts = new Set<() => void>();

/** Registers `cleanUp` to run on a signal or an exit without teardown; returns its unregistration. */
export function onAbnormalExit(cleanUp: () => void): () => void {
  installTraps();
  lastResorts.add(cleanUp);
  return () => lastResorts.delete(cleanUp);
}

function killAllNow(): void {
  for (const child of running) signalGroup(child, "SIGKILL");
  running.clear();
  for (const cleanUp of lastResorts) {
    try {
      cleanUp();
    } catch {
      // Best effort: the process is going away.
    }
  }
  lastResorts.clear();
}

let trapsInstalled = false;
function installTraps(): void {
  if (trapsInstalled) return;
  trapsInstalled = true;
  // `exit` handlers may only do synchronous work: process.kill is synchronous.
  process.once("exit", killAllNow);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      killAllNow();
      process.exit(signal === "SIGINT" ? 130 : 143);
    });
  }
}

export interface Spawned {
  child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
  /** The last lines it printed (stdout and stderr), for a failure message. */
  tail(lines?: number): string;
}

/** Starts `command` in its own process group, its output appended to `logFile`. */
export function spawnGroup(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; logFile: string }): Spawned {
  installTraps();
  const log = createWriteStream(options.logFile, { flags: "a" });
  const recent: string[] = [];
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  const keep = (chunk: Buffer) => {
    log.write(chunk);
    recent.push(...chunk.toString("utf8").split("\n").filter(Boolean));
    if (recent.length > 400) recent.splice(0, recent.length - 400);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => {
      running.delete(child);
      log.end();
      resolve(code ?? signal ?? "unknown");
    });
    child.once("error", (error) => {
      running.delete(child);
      recent.push(`spawn failed: ${error.message}`);
      resolve("spawn-error");
    });
  });
  return { child, exited, tail: (lines = 40) => recent.slice(-lines).join("\n") };
}

/** SIGTERM to the group, SIGKILL after a grace period; resolves once the leader has exited. */
export async function stopGroup(spawned: Spawned): Promise<void> {
  if (!running.has(spawned.child)) return;
  signalGroup(spawned.child, "SIGTERM");
  const timer = setTimeout(() => signalGroup(spawned.child, "SIGKILL"), STOP_GRACE_MS);
  await spawned.exited;
  clearTimeout(timer);
  // The leader may exit before its children (workerd): make sure none of the group survives.
  signalGroup(spawned.child, "SIGKILL");
}

/** Runs `command` to completion in its own process group; rejects with its output when it fails or times out. */
export async function runToCompletion(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; logFile: string; timeoutMs: number },
): Promise<void> {
  const spawned = spawnGroup(command, args, options);
  const timer = setTimeout(() => signalGroup(spawned.child, "SIGKILL"), options.timeoutMs);
  const code = await spawned.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${[command, ...args].join(" ")} exited with ${code}:\n${spawned.tail()}`);
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("could not pick a free port");
  return address.port;
}
