// openPort: one entry point for every mode. `auto` tries xdp-zc, xdp-drv, xdp-skb, tap in that
// order and reports why each earlier one failed; an explicit mode never falls back.
import { MemoryPort } from './memory.ts';
import { FramePool } from './pool.ts';
import { DriverError, type Port, type PortMode, type PortOptions } from './port.ts';
import type { Umem } from './umem.ts';
import { call, native, nativeUmem, type XdpProgramFds } from './native.ts';
import { TapPort } from './tap.ts';
import { XskPort } from './xsk.ts';

export interface OpenPortOptions extends PortOptions {
  /** Share this UMEM (and pool) with other ports; a native one is made when absent. */
  umem?: Umem;
  pool?: FramePool;
  /** AF_XDP ring size (power of two, default 2048). */
  ringSize?: number;
  /** AF_XDP: frames kept in the fill ring (default min(ringSize, pool.total / 4)). */
  fillFrames?: number;
  /** AF_XDP: prefetch each received frame's headers (default true; off for a receiver that never reads them). */
  prefetch?: boolean;
  /** TAP: txqueuelen to set (default 10000). */
  txqueuelen?: number;
  /** AF_XDP: a compiled XDP filter linked instead of the redirect program. */
  program?: XdpProgramFds;
}

export const AUTO_ORDER: readonly PortMode[] = ['xdp-zc', 'xdp-drv', 'xdp-skb', 'tap'];

export function openPort(opts: OpenPortOptions): { port: Port; report: string[] } {
  const mode = opts.mode ?? 'auto';
  const umem = opts.umem ?? (mode === 'memory' ? undefined : nativeUmem());
  const pool = opts.pool ?? (umem ? new FramePool(umem) : undefined);
  const report: string[] = [];
  if (mode === 'memory') {
    const p = umem && pool ? new MemoryPort(opts.name ?? opts.dev, umem, pool, opts.batchSize) : MemoryPort.pair(4096, opts.batchSize)[0];
    return { port: p, report: ['memory: ok'] };
  }
  if (!umem || !pool) throw new Error('openPort: no UMEM');
  if (mode !== 'auto') {
    const port = openOne(mode, opts, umem, pool);
    report.push(`${mode}: ok${describe(port)}`);
    return { port, report };
  }
  // An unknown device is an error in every mode; auto must not create a TAP by that name.
  call(() => native().ifInfo(opts.dev), { dev: opts.dev });
  let last: unknown = null;
  for (const m of AUTO_ORDER) {
    try {
      const port = openOne(m, opts, umem, pool);
      report.push(`${m}: ok${describe(port)}`);
      return { port, report };
    } catch (e) {
      last = e;
      const d = e instanceof DriverError ? `${e.syscall} ${e.errno}${e.hint ? `: ${e.hint}` : ''}` : String((e as Error).message ?? e);
      report.push(`${m}: failed: ${d}`);
    }
  }
  const msg = `${opts.dev}: no mode worked:\n  ${report.join('\n  ')}`;
  if (last instanceof DriverError) throw new DriverError(msg, last.syscall, last.errno, last.hint);
  throw new Error(msg);
}

function openOne(mode: PortMode, o: OpenPortOptions, umem: Umem, pool: FramePool): Port {
  if (mode === 'tap') {
    return new TapPort({ name: o.name, dev: o.dev, umem, pool, batchSize: o.batchSize, txqueuelen: o.txqueuelen }, umem, pool);
  }
  if (mode === 'memory') return new MemoryPort(o.name ?? o.dev, umem, pool, o.batchSize);
  return new XskPort(
    {
      name: o.name,
      dev: o.dev,
      queue: o.queue,
      mode,
      umem,
      pool,
      batchSize: o.batchSize,
      busyPoll: o.busyPoll,
      ringSize: o.ringSize,
      fillFrames: o.fillFrames,
      prefetch: o.prefetch,
      program: o.program,
    },
    umem,
    pool,
  );
}

function describe(p: Port): string {
  const notes = (p as { notes?: string[] }).notes ?? [];
  const zc = p instanceof XskPort ? (p.zeroCopy ? ' (zero-copy)' : ' (copy)') : '';
  return zc + (notes.length ? `; ${notes.join('; ')}` : '');
}
