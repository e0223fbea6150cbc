// CPU placement for lab benchmarks on few cores (see shared notes/af-xdp-here.md):
// - veth does its receive work in the sending CPU's softirq unless threaded NAPI is on; with it
//   on, the work runs in a `napi/DEV-N` kthread we can pin;
// - never busy-spin a receiver on the CPU of that kthread (it starves the kernel side).
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';

/** argv prefixed with `taskset -c CPU` (null: unpinned). */
export function pinned(cpu: number | null, argv: readonly string[]): string[] {
  return cpu === null ? [...argv] : ['taskset', '-c', String(cpu), ...argv];
}

/** Pin an existing task (a process or a kernel thread) to one CPU. */
export function pinPid(pid: number, cpu: number): void {
  execFileSync('taskset', ['-pc', String(cpu), String(pid)], { stdio: 'ignore' });
}

/**
 * Turn threaded NAPI on for a device in the root namespace (needs NAPI to exist: GRO on or an XDP
 * program, which `labUp` ensures). Returns false if the kernel refused.
 */
export function setThreadedNapi(dev: string, on = true): boolean {
  try {
    writeFileSync(`/sys/class/net/${dev}/threaded`, on ? '1' : '0');
    return readFileSync(`/sys/class/net/${dev}/threaded`, 'utf8').trim() === (on ? '1' : '0');
  } catch {
    return false;
  }
}

/** PIDs of the NAPI kthreads of a device (`napi/DEV-ID`). */
export function napiThreads(dev: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${d}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    // Kernels since 6.x show a kthread's full name here (`napi/DEV-NAPIID`).
    if (comm.startsWith(`napi/${dev}-`)) out.push(Number(d));
  }
  return out;
}

/** Pin every NAPI kthread of dev to cpu; returns how many. */
export function pinNapi(dev: string, cpu: number): number {
  const pids = napiThreads(dev);
  for (const p of pids) pinPid(p, cpu);
  return pids.length;
}

export interface MachineInfo {
  cpuModel: string;
  cpus: number;
  kernel: string;
  node: string;
  commit: string;
}

export function machineInfo(): MachineInfo {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    /* not a checkout */
  }
  return { cpuModel: os.cpus()[0]?.model ?? 'unknown', cpus: os.cpus().length, kernel: os.release(), node: process.version, commit };
}
