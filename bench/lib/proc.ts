// /proc readers for the benchmark: a process's CPU time (utime + stime, proc(5) fields 14 and 15)
// and its resident set size. Linux only.
import { readFileSync } from 'node:fs';

const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux x86-64; /proc/<pid>/stat counts in these ticks

export class ProcError extends Error {
  override readonly name = 'ProcError';
  readonly code = 'ERR_BENCH_PROC';
}

/** CPU milliseconds (user + system) the process has used so far. */
export function cpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`, pid);
}

/**
 * CPU milliseconds of the process's main thread alone (its thread id is its pid): the rest of
 * cpuMs() is helper threads (V8's compiler and GC, libuv's pool).
 */
export function mainThreadCpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/task/${pid}/stat`, pid);
}

function statCpuMs(file: string, pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(file, 'utf8');
  } catch {
    throw new ProcError(`process ${pid} is gone (no ${file})`);
  }
  // The command name (field 2) may contain spaces; fields after it start after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new ProcError(`bad /proc/${pid}/stat`);
  return ((utime + stime) * 1000) / CLK_TCK;
}

/** Resident set size in KiB (VmRSS of /proc/<pid>/status). */
export function rssKb(pid: number): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    throw new ProcError(`process ${pid} is gone (no /proc/${pid}/status)`);
  }
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new ProcError(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}
