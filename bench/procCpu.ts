/**
 * CPU seconds spent by this process and by the services it started (Azurite, the embedded
 * PostgreSQL and its backends), read from /proc. On a shared machine wall-clock ratios move
 * with everyone else's load; CPU per byte moves much less, so scenarios report both.
 *
 * A process's CPU is utime + stime of the live processes under this one, plus cutime +
 * cstime (the CPU of children that exited and were waited for: a backend whose connection
 * closed is counted in its postmaster's). Linux only; elsewhere every figure is NaN.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: the unit of /proc/<pid>/stat times (100 on every Linux this runs on). */
const TICKS_PER_SECOND = 100;

export interface CpuSnapshot {
  /** This Node process, every thread. */
  node: number;
  /** Child process trees whose command line names azurite. */
  azurite: number;
  /** Every other child process tree (the embedded PostgreSQL). */
  postgres: number;
}

interface Proc {
  ppid: number;
  ticks: number;
}

function readProcs(): Map<number, Proc> {
  const procs = new Map<number, Proc>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      // Fields after the command name "(…)", which may itself hold spaces: state, ppid, …
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(entry), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
    } catch {
      // Exited while we looked.
    }
  }
  return procs;
}

function treeTicks(root: number, children: Map<number, number[]>, procs: Map<number, Proc>): number {
  let ticks = procs.get(root)?.ticks ?? 0;
  for (const child of children.get(root) ?? []) ticks += treeTicks(child, children, procs);
  return ticks;
}

export function cpuSnapshot(): CpuSnapshot {
  const usage = process.cpuUsage();
  const node = (usage.user + usage.system) / 1e6;
  if (process.platform !== 'linux') return { node, azurite: NaN, postgres: NaN };
  const procs = readProcs();
  const children = new Map<number, number[]>();
  for (const [pid, p] of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  let azurite = 0;
  let postgres = 0;
  for (const child of children.get(process.pid) ?? []) {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${child}/cmdline`, 'latin1');
    } catch {
      continue;
    }
    const seconds = treeTicks(child, children, procs) / TICKS_PER_SECOND;
    if (cmdline.includes('azurite')) azurite += seconds;
    else postgres += seconds;
  }
  return { node, azurite, postgres };
}

/** CPU spent between two snapshots. */
export function cpuSince(before: CpuSnapshot, after: CpuSnapshot = cpuSnapshot()): CpuSnapshot {
  return { node: after.node - before.node, azurite: after.azurite - before.azurite, postgres: after.postgres - before.postgres };
}
