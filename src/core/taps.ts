import type { Batch } from './batch.ts';

/**
 * A ptype_all tap (a packet socket, what tcpdump opens). It sees frames synchronously and must
 * copy what it keeps: the frame goes on through the stack right after the call.
 */
export interface Tap {
  /** Port device index to watch, -1 for all. */
  dev: number;
  /** See received frames (before the XDP hook) / transmitted frames (as handed to the port). */
  rx: boolean;
  tx: boolean;
  frame(u8: Uint8Array, addr: number, len: number, dev: number, tx: boolean, sec: number, usec: number): void;
}

/**
 * ptype_all: the registered taps. Costs one integer compare per batch when none is registered
 * (callers check `count`). Timestamps are read once per batch, not per frame.
 */
export class Taps {
  /** Number of registered taps; callers skip the tap path entirely when 0. */
  count = 0;
  private list: Tap[] = [];
  private sec = 0;
  private usec = 0;

  add(tap: Tap): () => void {
    this.list = [...this.list, tap];
    this.count = this.list.length;
    return () => this.remove(tap);
  }

  remove(tap: Tap): void {
    // Copy-on-write so a tap removed from inside a callback does not disturb the running loop.
    this.list = this.list.filter((t) => t !== tap);
    this.count = this.list.length;
  }

  /** Read the clock for the frames that follow (once per batch). */
  stamp(): void {
    const ms = performance.timeOrigin + performance.now();
    const s = Math.floor(ms / 1000);
    this.sec = s;
    this.usec = Math.floor((ms - s * 1000) * 1000);
  }

  /** Received frames b[0..n), all from port device `dev`. */
  rxBatch(u8: Uint8Array, b: Batch, n: number, dev: number): void {
    this.stamp();
    const list = this.list;
    for (let t = 0; t < list.length; t++) {
      const tap = list[t];
      if (!tap.rx || (tap.dev >= 0 && tap.dev !== dev)) continue;
      for (let i = 0; i < n; i++) tap.frame(u8, b.addr[i], b.len[i], dev, false, this.sec, this.usec);
    }
  }

  /** One transmitted frame on port device `dev` (after stamp() for its batch). */
  txFrame(u8: Uint8Array, addr: number, len: number, dev: number): void {
    const list = this.list;
    for (let t = 0; t < list.length; t++) {
      const tap = list[t];
      if (tap.tx && (tap.dev < 0 || tap.dev === dev)) tap.frame(u8, addr, len, dev, true, this.sec, this.usec);
    }
  }
}
