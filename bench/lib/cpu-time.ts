/**
 * CPU time of a process group (a `wrangler dev` started by the bench: wrangler's Node and its workerd). Unlike
 * throughput, CPU per request does not depend on what else the machine is running.
 */
import { readdirSync, readFileSync } from "node:fs";

/** USER_HZ on Linux: the unit of utime and stime in /proc/<pid>/stat. */
const TICKS_PER_SECOND = 100;

/** CPU time (user + system, ms) used so far by the live processes of process group `pgid`; NaN without /proc. */
export function groupCpuMs(pgid: number): number {
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
    // Fields after the command name (which may contain spaces), see proc(5): state ppid pgrp ... utime(14) stime(15)
    // cutime(16) cstime(17). The children's times count too: a helper process of the group that exits (and is waited
    // for) moves its time there, and would otherwise take it out of the sum between two readings.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) !== pgid) continue;
    ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}
