// The lab as benchmarks use it: a fresh lab (static ARP, so hosts send without anything answering
// ARP) with threaded NAPI on the softnet-side veth ends, so their receive work can be pinned.
import { labDown, labUp, type Lab } from '../../src/tools/lab.ts';
import { setThreadedNapi } from './cpu.ts';

export async function benchLab(name: string, opts: { linuxRouter?: boolean; threadedNapi?: boolean } = {}): Promise<Lab> {
  await labDown(name);
  const lab = await labUp({ name, staticArp: true, linuxRouter: opts.linuxRouter });
  if (!lab.router && opts.threadedNapi !== false) for (const d of [lab.a.dev, lab.b.dev]) setThreadedNapi(d);
  return lab;
}

export { labDown };
