// Choosing where a filter module runs: `offload: kernel` compiles and loads it (errors are
// fatal), `js` runs it in JS, `auto` tries the kernel and, when the compiler or the verifier
// refuses, says why in the log (file:line:col) and runs it in JS: never a silent difference.
import { loadXdpModule, type XdpFilter } from '../core/xdp.ts';
import type { LoadedFilter } from './compile.ts';
import { BpfCompileError, BpfVerifierError } from './errors.ts';

export type Offload = 'auto' | 'kernel' | 'js';

export interface FilterPlacement {
  /** The module's filter, for the JS hook (always loaded: it is the fallback and the reference). */
  filter: XdpFilter;
  /** The loaded eBPF program when it runs in the kernel, else null. */
  kernel: LoadedFilter | null;
  /** Why it runs in JS (empty when in the kernel or asked for JS). */
  reason: string;
}

export async function placeXdpFilter(path: string, offload: Offload = 'auto', log: (line: string) => void = (l) => console.warn(l)): Promise<FilterPlacement> {
  const { filter, maps } = await loadXdpModule(path);
  if (offload === 'js') return { filter, kernel: null, reason: '' };
  // The compiler (and the TypeScript compiler under it) loads only when a filter is compiled: a
  // stack without one never loads it. Loading it through tsx (a checkout's `softnet`) detaches
  // an ArrayBuffer, and from then on V8 checks for a detached buffer at every typed-array access
  // of the packet path (18% of the forwarding chain's instructions, micro-fwd-chain --instructions).
  const { compileFilter, loadFilter } = await import('./compile.ts');
  try {
    // The module's maps now read and write the kernel's (what they held is copied in).
    const kernel = loadFilter(compileFilter(path), { attach: true, maps });
    return { filter, kernel, reason: '' };
  } catch (e) {
    if (offload === 'kernel' || !(e instanceof BpfCompileError || e instanceof BpfVerifierError)) throw e;
    const reason = e.message;
    log(`xdp: ${path} runs in JS, not in the kernel: ${reason}`);
    return { filter, kernel: null, reason };
  }
}
