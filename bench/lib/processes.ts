/**
 * Child processes of the bench. Every child is spawned in its own process group (wrangler starts workerd, tsx starts
 * node), so stopping it stops the whole tree; all of them are stopped when the bench ends, fails or is interrupted.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

export interface Child {
  name: string;
  process: ChildProcess;
  /** Everything the child wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the first match of `pattern` in the output after offset `from`; rejects when the child exits first or after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs: number, from?: number): Promise<RegExpExecArray>;
  /** Output lines written since `mark` (an offset from `output().length`). */
  since(mark: number): string;
  stop(): Promise<void>;
}

const children = new Set<Child>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Starts `command` in its own process group; output goes to memory and to `logFile`. */
export function startChild(
  name: string,
  command: string,
  args: string[],
  options: { cwd: string; logFile: string; env?: NodeJS.ProcessEnv },
): Child {
  const log = createWriteStream(options.logFile);
  const proc = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    const piece = chunk.toString("utf8");
    text += piece;
    log.write(piece);
    for (const listener of listeners) listener();
  };
  proc.stdout!.on("data", onData);
  proc.stderr!.on("data", onData);
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  proc.once("exit", () => {
    log.end();
    for (const listener of listeners) listener();
  });
  const child: Child = {
    name,
    process: proc,
    output: () => text,
    since: (mark) => text.slice(mark),
    waitForLine(pattern, timeoutMs, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(from === 0 ? text : text.slice(from));
          if (match) return done(() => resolve(match));
          if (proc.exitCode !== null || proc.signalCode !== null) {
            return done(() =>
              reject(new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}) before ${pattern}; see ${options.logFile}`)),
            );
          }
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`${name}: no ${pattern} within ${timeoutMs} ms; see ${options.logFile}`))),
          timeoutMs,
        );
        const done = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
    async stop() {
      killGroup(proc, "SIGTERM");
      const timer = setTimeout(() => killGroup(proc, "SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
      // workerd can outlive wrangler when wrangler is killed first: make sure the group is gone.
      killGroup(proc, "SIGKILL");
      children.delete(child);
    },
  };
  children.add(child);
  return child;
}

/** Stops every child still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((child) => child.stop()));
}

let hooked = false;
/** Stops every child on normal exit, on an uncaught error and on SIGINT/SIGTERM/SIGHUP. */
export function installCleanup(): void {
  if (hooked) return;
  hooked = true;
  // Last resort, synchronous: the event loop is gone at `exit`.
  process.on("exit", () => {
    for (const child of children) {
      if (child.process.pid !== undefined) {
        try {
          process.kill(-child.process.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      console.error(`\nbench: ${signal}, stopping children`);
      void stopAll().finally(() => process.exit(130));
    });
  }
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers (any status) or `timeoutMs` passes. */
export async function waitForHttp(url: string, timeoutMs: number, child?: Child): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && (child.process.exitCode !== null || child.process.signalCode !== null))
      throw new Error(`${child.name} exited before ${url} answered`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** Runs a command to completion; throws with its output when it fails. */
export function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; input?: string }): string {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    encoding: "utf8",
    input: options.input ?? "",
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(" ")} failed (${result.status ?? result.signal}):\n${output.slice(-4000)}`);
  return output;
}

/**
 * CPU time (user + system, ms) used so far by the live processes of a process group (a child started here: wrangler
 * and its workerd). Unlike throughput, CPU per request does not depend on what else the machine is running.
 */
export function groupCpuMs(pgid: number): number {
  const ticksPerSecond = 100; // USER_HZ on Linux
  let ticks = 0;
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return NaN;
  }
  for (const pid of entries) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue;
    }
    // Fields after the command name (which may contain spaces), see proc(5): state ppid pgrp ... utime(14) stime(15).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) !== pgid) continue;
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / ticksPerSecond;
}
