// The traffic generator (pktgen / xdp-trafficgen): sends one frame `count` times or for
// `durationSec` out of `dev`. First choice: live-frame XDP test runs (~5 Mpps here, on the libuv
// thread pool so the event loop stays free); fallback: AF_XDP TX in copy mode, in batches that
// yield to the event loop.
import { FramePool } from './pool.ts';
import { DriverError } from './port.ts';
import { call, driverError, native, nativeUmem } from './native.ts';
import { XskPort } from './xsk.ts';

export interface GenerateOptions {
  dev: string;
  count?: number;
  durationSec?: number;
  frame: Uint8Array;
  /** Frames per live-frame batch (kernel default 64) or per AF_XDP TX call. */
  batch?: number;
  /** Force a method; default: xdp-live, then xsk-tx. */
  method?: 'auto' | 'xdp-live' | 'xsk-tx';
}

export interface GenerateResult {
  packets: number;
  seconds: number;
  method: 'xdp-live' | 'xsk-tx';
  /**
   * xdp-live: frames the device did not transmit, i.e. `packets` less the growth of its
   * `*xdp_xmit` ethtool counters while the run lasted. A veth refuses frames when its peer's ring
   * is full, and silently drops all of them when the peer has no NAPI (GRO off, no XDP program).
   * Absent when the driver has no such counter. `packets` counts what was handed to the kernel.
   */
  refused?: number;
  /** Why xdp-live was not used, when the fallback ran. */
  fallbackReason?: string;
}

export async function generate(o: GenerateOptions): Promise<GenerateResult> {
  const count = o.count ?? 0;
  const durationSec = o.durationSec ?? 0;
  if (count <= 0 && durationSec <= 0) throw new Error('generate: give count or durationSec');
  const method = o.method ?? 'auto';
  let reason: string | undefined;
  if (method !== 'xsk-tx') {
    const info = call(() => native().ifInfo(o.dev), { dev: o.dev });
    try {
      const xmit0 = xdpXmitted(o.dev);
      const live = call(() => native().genLive({ ifindex: info.ifindex, frame: o.frame, count, durationSec, batch: liveBatch(o.batch) }), { dev: o.dev });
      const r = await live.catch((e: unknown) => {
        throw driverError(e, { dev: o.dev });
      });
      const xmit1 = xdpXmitted(o.dev);
      // Clamped: another XDP sender on the same device in the meantime would count there too.
      const refused = xmit0 === undefined || xmit1 === undefined ? undefined : Math.max(0, r.packets - (xmit1 - xmit0));
      return { packets: r.packets, seconds: r.seconds, method: 'xdp-live', ...(refused === undefined ? {} : { refused }) };
    } catch (e) {
      if (method === 'xdp-live') throw e;
      reason = e instanceof DriverError ? `${e.syscall} ${e.errno}` : String(e);
    }
  }
  const r = await xskTx(o, count, durationSec);
  return { ...r, method: 'xsk-tx', fallbackReason: reason };
}

/** Frames the device transmitted by XDP (veth: tx_queue_N_xdp_xmit), or undefined if it counts none. */
function xdpXmitted(dev: string): number | undefined {
  let stats: Record<string, number>;
  try {
    stats = native().ethtoolStats(dev);
  } catch {
    return undefined; // no ethtool statistics on this device: nothing to report
  }
  let n: number | undefined;
  for (const k in stats) if (k.endsWith('xdp_xmit')) n = (n ?? 0) + stats[k];
  return n;
}

/** The kernel takes 1..256 frames per live-frame batch (TEST_XDP_MAX_BATCH); 0 means its default, 64. */
function liveBatch(b: number | undefined): number {
  if (b === undefined) return 64;
  return Math.max(1, Math.min(256, Math.floor(b)));
}

/** AF_XDP TX, copy mode, queue 0, no program attached (nothing to receive). */
async function xskTx(o: GenerateOptions, count: number, durationSec: number): Promise<{ packets: number; seconds: number }> {
  const umem = nativeUmem(4096);
  const pool = new FramePool(umem);
  const batch = Math.min(o.batch ?? 64, 256);
  const port = new XskPort({ dev: o.dev, mode: 'xdp-drv', umem, pool, batchSize: batch, attach: false, fillFrames: 64 }, umem, pool);
  const len = Math.min(o.frame.length, umem.frameSize - umem.headroom);
  const frame = o.frame.subarray(0, len);
  const limit = count > 0 ? count : Number.MAX_SAFE_INTEGER;
  const t0 = performance.now();
  let sent = 0;
  try {
    while (sent < limit) {
      if (durationSec > 0 && performance.now() - t0 >= durationSec * 1000) break;
      // A few hundred batches per event-loop turn, then yield so timers and sockets still run.
      for (let turn = 0; turn < 256 && sent < limit; turn++) {
        port.reap();
        const want = Math.min(batch, limit - sent);
        const k = pool.allocMany(port.txAddr, want);
        for (let j = 0; j < k; j++) {
          umem.u8.set(frame, port.txAddr[j]);
          port.txLen[j] = len;
        }
        const t = port.tx(k);
        for (let j = t; j < k; j++) pool.free(port.txAddr[j]);
        sent += t;
      }
      await new Promise((res) => setImmediate(res));
    }
    // Let the last frames complete before closing.
    for (let i = 0; i < 100 && port.inFlight() > port.stats().fill_held; i++) {
      port.reap();
      await new Promise((res) => setTimeout(res, 1));
    }
  } finally {
    port.close();
  }
  return { packets: sent, seconds: (performance.now() - t0) / 1000 };
}
