/**
 * Packet capture for `softnet capture` (the kernel's ptype_all taps, as tcpdump uses them):
 * frames are copied into a bounded queue and handed over in batches on a timer. Capturing is the
 * slow path: a copy per frame is fine, unbounded memory is not.
 */
import type { NetDevices } from '../core/netdev.ts';
import type { Tap, Taps } from '../core/taps.ts';
import type { CapturedFrame, CaptureOptions } from './types.ts';

export interface CaptureHooks {
  /** A frame did not fit in the queue (the stack counts capture_dropped). */
  dropped(): void;
  /** The capture stopped (the stack forgets it). */
  stopped(stop: () => void): void;
}

/**
 * Tap frames into a bounded queue; `deliver` gets them in batches at most every `flushMs`.
 * Returns a function that stops the capture (flushing what is left). Idempotent.
 */
export function startCapture(
  taps: Taps,
  devs: NetDevices,
  o: CaptureOptions,
  deliver: (frames: CapturedFrame[], dropped: number) => void,
  flushMs: number,
  hooks: CaptureHooks,
): () => void {
  const dev = o.dev === undefined ? -1 : devs.get(o.dev).parent;
  const snaplen = o.snaplen ?? 65535;
  const max = o.maxQueued ?? 4096;
  let q: CapturedFrame[] = [];
  let dropped = 0;
  const tap: Tap = {
    dev,
    rx: o.rx ?? true,
    tx: o.tx ?? false,
    frame: (u8, addr, len, d, tx, sec, usec) => {
      if (q.length >= max) {
        dropped++;
        hooks.dropped();
        return;
      }
      q.push({ sec, usec, origLen: len, data: u8.slice(addr, addr + Math.min(len, snaplen)), dev: d, tx });
    },
  };
  const flush = () => {
    if (q.length === 0 && dropped === 0) return;
    const out = q;
    const dr = dropped;
    q = [];
    dropped = 0;
    deliver(out, dr);
  };
  const remove = taps.add(tap);
  const timer = setInterval(flush, flushMs);
  let done = false;
  const stop = () => {
    if (done) return;
    done = true;
    remove();
    clearInterval(timer);
    hooks.stopped(stop);
    flush();
  };
  return stop;
}
