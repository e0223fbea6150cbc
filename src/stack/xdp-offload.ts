/**
 * Where a port's XDP filter runs (`xdp: {module, offload: auto | kernel | js}`): compiled to eBPF
 * and linked on the device in place of the redirect program (src/bpf), so only what it passes
 * reaches softnet, or in JS at the xdp stage. `auto` falls back to JS with a log line saying
 * why (the compiler's file:line:col, the verifier, or a port without an XDP hook). Control plane only.
 */
import { placeXdpFilter, type Offload } from '../bpf/offload.ts';
import type { LoadedFilter } from '../bpf/compile.ts';
import { loadXdpFilter, type XdpFilter } from '../core/xdp.ts';
import type { Port } from '../driver/port.ts';
import type { AddPortOptions } from './types.ts';

/** A port's filter: a module path (runs in JS), the function itself, or a module with where to run it. */
export type XdpOption = string | XdpFilter | { module: string; offload?: Offload };

export interface XdpPlacement {
  /** The filter for the JS hook when it runs in JS, else null. */
  filter: XdpFilter | null;
  /** The loaded program when it runs in the kernel, else null. */
  kernel: LoadedFilter | null;
}

const XDP_MODES = new Set(['auto', 'xdp-zc', 'xdp-drv', 'xdp-skb']);

/** Before the port opens: compile and load the filter when it is to run in the kernel. */
export async function prepareXdp(o: AddPortOptions, log: (line: string) => void): Promise<XdpPlacement> {
  const x = o.xdp;
  if (x === undefined) return { filter: null, kernel: null };
  if (typeof x === 'function') return { filter: x, kernel: null };
  if (typeof x === 'string') return { filter: await loadXdpFilter(x), kernel: null };
  const offload = x.offload ?? 'auto';
  const mode = o.mode ?? 'auto';
  if (offload !== 'js' && !XDP_MODES.has(mode)) {
    const why = `port ${o.name} is in ${mode} mode, which has no XDP hook`;
    if (offload === 'kernel') throw new Error(`xdp: ${x.module}: offload: kernel needs an AF_XDP port (${why})`);
    log(`xdp: ${x.module} runs in JS, not in the kernel: ${why}`);
    return { filter: await loadXdpFilter(x.module), kernel: null };
  }
  const p = await placeXdpFilter(x.module, offload, log);
  return p.kernel !== null ? { filter: null, kernel: p.kernel } : { filter: p.filter, kernel: null };
}

/** After the port opened: `auto` may have opened a TAP, where the program cannot run: back to JS. */
export async function settleXdp(o: AddPortOptions, p: XdpPlacement, port: Port, log: (line: string) => void): Promise<XdpPlacement> {
  if (p.kernel === null || port.mode.startsWith('xdp')) return p;
  const x = o.xdp as { module: string; offload?: Offload };
  p.kernel.close();
  const why = `port ${o.name} opened in ${port.mode} mode, which has no XDP hook`;
  if (x.offload === 'kernel') throw new Error(`xdp: ${x.module}: offload: kernel needs an AF_XDP port (${why})`);
  log(`xdp: ${x.module} runs in JS, not in the kernel: ${why}`);
  return { filter: await loadXdpFilter(x.module), kernel: null };
}
