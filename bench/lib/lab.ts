// The lab as benchmarks use it: a fresh lab (static ARP, so hosts send without anything answering
// ARP) with threaded NAPI on the softnet-side veth ends, so their receive work can be pinned.
import { labDown, labUp, nsExec, type Lab } from '../../src/tools/lab.ts';
import { setThreadedNapi } from './cpu.ts';

export async function benchLab(name: string, opts: { linuxRouter?: boolean; threadedNapi?: boolean } = {}): Promise<Lab> {
  await labDown(name);
  const lab = await labUp({ name, staticArp: true, linuxRouter: opts.linuxRouter });
  if (!lab.router && opts.threadedNapi !== false) for (const d of [lab.a.dev, lab.b.dev]) setThreadedNapi(d);
  return lab;
}

export { labDown };

/** `ethtool -S DEV` as numbers (namespace ns, null: the current one). */
export async function ethtoolStats(ns: string | null, dev: string): Promise<Record<string, number>> {
  const r = await nsExec(ns, ['ethtool', '-S', dev], { check: true });
  const o: Record<string, number> = {};
  for (const m of r.stdout.matchAll(/^\s+([\w-]+): (\d+)$/gm)) o[m[1]] = Number(m[2]);
  return o;
}

/** Frames an in-kernel XDP program dropped on a veth, all queues (rx_queue_N_xdp_drops). */
export async function xdpDrops(ns: string | null, dev: string): Promise<number> {
  const s = await ethtoolStats(ns, dev);
  let n = 0;
  for (const [k, v] of Object.entries(s)) if (/^rx_queue_\d+_xdp_drops$/.test(k)) n += v;
  return n;
}
