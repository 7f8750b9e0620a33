/**
 * Child processes of the end-to-end run and the bench (Node only). Each child is spawned in its own process group
 * (`detached`), so stopping it also stops what it started (wrangler starts workerd, tsx starts node). Every group
 * still running is stopped on SIGINT/SIGTERM/SIGHUP and, as a last resort, synchronously when this process exits.
 */
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { createServer } from "node:net";
import { constants } from "node:os";

const STOP_GRACE_MS = 5_000;

export interface ProcessGroup {
  readonly name: string;
  /** The leader's pid, which is also the group's id; `undefined` when the command could not be spawned. */
  readonly pid: number | undefined;
  /** Resolves with the exit code (or the signal's name) once the leader has exited. */
  readonly exited: Promise<number | string>;
  /** Everything it printed so far, stdout and stderr interleaved; `output().length` marks a point to search from. */
  output(): string;
  /** The last lines it printed, for a failure message. */
  tail(lines?: number): string;
  /** The first match of `pattern` in the output from offset `from`; rejects when the group exits first or on timeout. */
  waitForLine(pattern: RegExp, timeoutMs: number, from?: number): Promise<RegExpExecArray>;
  /** SIGTERM to the group, SIGKILL after a grace period; resolves once the leader has exited. */
  stop(): Promise<void>;
}

export interface GroupOptions {
  cwd: string;
  /** The child's whole environment. */
  env: NodeJS.ProcessEnv;
  /** Appended to as the child prints. */
  logFile: string;
}

const running = new Set<ProcessGroup>();
/** Synchronous clean-ups (deleting a temporary directory) for when the owner never gets to run its own. */
const lastResorts = new Set<() => void>();

/** Starts `command` in a process group of its own, its output kept in memory and appended to `logFile`. */
export function startGroup(name: string, command: string, args: readonly string[], options: GroupOptions): ProcessGroup {
  installTraps();
  const log = createWriteStream(options.logFile, { flags: "a" });
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };
  const keep = (chunk: Buffer) => {
    log.write(chunk);
    text += chunk.toString("utf8");
    notify();
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exitedWith: number | string | null = null;
  const exited = new Promise<number | string>((resolve) => {
    const settle = (code: number | string) => {
      if (exitedWith !== null) return;
      exitedWith = code;
      running.delete(group);
      log.end();
      resolve(code);
      notify();
    };
    child.once("exit", (code, signal) => settle(code ?? signal ?? "unknown"));
    child.once("error", (error) => {
      text += `spawn failed: ${error.message}\n`;
      settle("spawn-error");
    });
  });

  const group: ProcessGroup = {
    name,
    pid: child.pid,
    exited,
    output: () => text,
    tail: (lines = 40) => text.split("\n").filter(Boolean).slice(-lines).join("\n"),
    waitForLine(pattern, timeoutMs, from = 0) {
      return new Promise((resolve, reject) => {
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        const check = () => {
          const match = pattern.exec(text.slice(from));
          if (match) finish(() => resolve(match));
          else if (exitedWith !== null)
            finish(() => reject(new Error(`${name} exited (${exitedWith}) before printing ${pattern}:\n${group.tail()}`)));
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`${name} printed no ${pattern} within ${timeoutMs} ms:\n${group.tail()}`))),
          timeoutMs,
        );
        listeners.add(check);
        check();
      });
    },
    async stop() {
      if (exitedWith === null) {
        signalGroup(group, "SIGTERM");
        const timer = setTimeout(() => signalGroup(group, "SIGKILL"), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
      // The leader may exit before its children (wrangler before workerd): make sure none of the group survives.
      signalGroup(group, "SIGKILL");
    },
  };
  running.add(group);
  return group;
}

/** Runs `command` to completion in its own process group; returns its output, rejects with it when it fails or times out. */
export async function runToCompletion(
  command: string,
  args: readonly string[],
  options: GroupOptions & { timeoutMs: number },
): Promise<string> {
  const group = startGroup([command, ...args].join(" "), command, args, options);
  const timer = setTimeout(() => signalGroup(group, "SIGKILL"), options.timeoutMs);
  const code = await group.exited;
  clearTimeout(timer);
  signalGroup(group, "SIGKILL");
  if (code !== 0) throw new Error(`${group.name} exited with ${code}:\n${group.tail()}`);
  return group.output();
}

/** Stops every group still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((group) => group.stop()));
}

/** Registers `cleanUp` to run (synchronously) on a signal or an exit that skipped the owner's own clean-up; returns its unregistration. */
export function onAbnormalExit(cleanUp: () => void): () => void {
  installTraps();
  lastResorts.add(cleanUp);
  return () => lastResorts.delete(cleanUp);
}

/** Sends `signal` to the whole group; false when it is already gone. */
function signalGroup(group: ProcessGroup, signal: NodeJS.Signals): boolean {
  if (group.pid === undefined) return false;
  try {
    process.kill(-group.pid, signal);
    return true;
  } catch {
    return false;
  }
}

let trapsInstalled = false;
function installTraps(): void {
  if (trapsInstalled) return;
  trapsInstalled = true;
  // `exit` handlers may only do synchronous work: process.kill and the registered clean-ups are synchronous.
  process.once("exit", () => {
    for (const group of running) signalGroup(group, "SIGKILL");
    for (const cleanUp of lastResorts) {
      try {
        cleanUp();
      } catch {
        // Best effort: the process is going away.
      }
    }
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    // A second signal while the groups stop gets Node's default behaviour (exit), and the `exit` trap above.
    process.once(signal, () => {
      console.error(`\n${signal}: stopping ${running.size} child process group(s)`);
      void stopAll().finally(() => process.exit(128 + constants.signals[signal]));
    });
  }
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

export interface WaitForHttpOptions {
  timeoutMs: number;
  /** The status the answer must have; any answer will do when absent. */
  status?: number;
  /** The group that should be answering: its exit ends the wait at once, with its last lines. */
  group?: ProcessGroup;
}

/** Polls `url` until it answers (with `status`, when given); fails early when `group` exits. */
export async function waitForHttp(url: string, options: WaitForHttpOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const failure = (reason: string) => new Error(`${url} ${reason}${options.group ? `:\n${options.group.tail()}` : ""}`);
  while (Date.now() < deadline) {
    if (options.group && !running.has(options.group)) throw failure(`never answered: ${options.group.name} exited`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      if (options.status === undefined || response.status === options.status) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw failure(`did not answer${options.status === undefined ? "" : ` ${options.status}`} within ${options.timeoutMs / 1000} s`);
}
