// CPU placement for lab benchmarks on few cores (see shared notes/af-xdp-here.md):
// - veth does its receive work in the sending CPU's softirq unless threaded NAPI is on; with it
//   on, the work runs in a `napi/DEV-N` kthread we can pin;
// - never busy-spin a receiver on the CPU of that kthread (it starves the kernel side).
import { readFile, readdir } from 'node:fs/promises';
import { nsExec } from '../tools/lab.ts';

/** argv prefixed with `taskset -c CPU` (null: unpinned). */
export function pinned(cpu: number | null, argv: readonly string[]): string[] {
  return cpu === null ? [...argv] : ['taskset', '-c', String(cpu), ...argv];
}

/**
 * Threaded NAPI on or off for a device in namespace ns (null: the current one). Needs NAPI to
 * exist: GRO on or an XDP program, which `labUp` ensures. Throws if the kernel refuses.
 */
export async function setThreadedNapi(ns: string | null, dev: string, on: boolean): Promise<void> {
  await nsExec(ns, ['sh', '-c', `echo ${on ? 1 : 0} > /sys/class/net/${dev}/threaded`], { check: true });
}

/** PIDs of the NAPI kthreads of a device (`napi/DEV-ID`; the name may be cut at 15 characters). */
export async function napiThreads(dev: string): Promise<number[]> {
  const prefix = `napi/${dev}-`.slice(0, 15);
  const out: number[] = [];
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const comm = (await readFile(`/proc/${d}/comm`, 'utf8')).trim();
      if (comm.startsWith(prefix) || prefix.startsWith(comm)) out.push(Number(d));
    } catch {
      /* exited */
    }
  }
  return out;
}

/** Pins every NAPI kthread of dev to cpu; returns how many there were. */
export async function pinNapi(dev: string, cpu: number): Promise<number> {
  const pids = await napiThreads(dev);
  for (const pid of pids) await nsExec(null, ['taskset', '-pc', String(cpu), String(pid)], { check: true });
  return pids.length;
}

/** Per-CPU jiffies from /proc/stat: busy (all but idle and iowait) and total, indexed by CPU. */
export async function cpuTimes(): Promise<{ busy: number; total: number }[]> {
  const out: { busy: number; total: number }[] = [];
  for (const m of (await readFile('/proc/stat', 'utf8')).matchAll(/^cpu(\d+) (.*)$/gm)) {
    const v = m[2].trim().split(/\s+/).map(Number);
    const total = v.slice(0, 8).reduce((a, x) => a + x, 0);
    out[Number(m[1])] = { busy: total - v[3] - v[4], total };
  }
  return out;
}

/** Share (0..1) of the time CPU `cpu` was busy between two cpuTimes() readings. */
export function busyShare(a: { busy: number; total: number }[], b: { busy: number; total: number }[], cpu: number): number {
  const dt = b[cpu].total - a[cpu].total;
  return dt > 0 ? (b[cpu].busy - a[cpu].busy) / dt : 0;
}
