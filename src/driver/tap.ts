// A TAP device as a Port: frames are read into and written from UMEM frames by native code.
// The port keeps a small stock of free frames lent by the pool (like a fill ring) for read();
// written frames go back to the pool at once (write() copies them into the kernel).
import type { FramePool } from './pool.ts';
import { FillStarve } from './fill-starve.ts';
import type { Port } from './port.ts';
import type { Umem } from './umem.ts';
import { call, native, type NativeAddon } from './native.ts';

export interface TapOptions {
  name?: string;
  /** TAP device name: created if missing, attached if it exists (and is a TAP). */
  dev: string;
  umem: Umem;
  pool: FramePool;
  batchSize?: number;
  /** Raised from the default 1000, which drops frames under load. Default 10000. */
  txqueuelen?: number;
  /** Bring the device up (default true). */
  up?: boolean;
}

export class TapPort implements Port {
  readonly mode = 'tap' as const;
  readonly queue = 0;
  readonly name: string;
  readonly dev: string;
  readonly batchSize: number;
  /** The TAP's MAC and index: refreshed by reopen(). */
  readonly mac: Uint8Array;
  ifindex: number;
  readonly rxAddr: Uint32Array;
  readonly rxLen: Uint32Array;
  readonly txAddr: Uint32Array;
  readonly txLen: Uint32Array;
  notes: string[];
  onStarved: (() => void) | null = null;

  private readonly n: NativeAddon;
  private id = -1;
  private readonly fillBuf: Uint32Array;
  private readonly stock: number;
  private lent = 0;
  private readonly minLent: number;
  /** Fewer than minLent frames lent and the pool had no more (see Port.refill). */
  private readonly starve = new FillStarve();
  private allocFail = 0;
  /**
   * armIrq() came while no frame was lent: not armed, since the fd stays readable (epoll is
   * level-triggered) and every wake-up would read nothing: a spin. Armed by the refill that
   * lends the first frame.
   */
  private irqDeferred = false;
  private closed = false;
  /** The fd is closed until reopen() (the TAP was deleted): rx/tx do nothing. */
  private suspended = false;
  private lastIrq: (() => void) | null = null;
  private readonly opts: TapOptions;

  constructor(o: TapOptions, readonly umem: Umem, readonly pool: FramePool) {
    if (umem.handle < 0) throw new Error(`${o.dev}: a TAP port needs a native UMEM (nativeUmem())`);
    this.n = native();
    this.batchSize = o.batchSize ?? 256;
    this.stock = this.batchSize * 2;
    this.minLent = Math.min(32, this.stock >> 2);
    this.rxAddr = new Uint32Array(this.batchSize);
    this.rxLen = new Uint32Array(this.batchSize);
    this.txAddr = new Uint32Array(this.batchSize);
    this.txLen = new Uint32Array(this.batchSize);
    this.fillBuf = new Uint32Array(this.stock);
    this.opts = o;
    this.mac = new Uint8Array(6);
    this.ifindex = 0;
    this.notes = [];
    this.dev = o.dev;
    this.name = o.name ?? o.dev;
    this.open();
    this.dev = this.opened;
    this.name = o.name ?? this.opened;
  }

  private opened = '';

  /** Open (or create) the TAP by name, learn its ifindex and MAC, lend it frames. */
  private open(): void {
    const o = this.opts;
    const umem = this.umem;
    const ctx = { dev: o.dev, mode: 'tap' };
    const r = call(
      () =>
        this.n.tapOpen({
          name: o.dev,
          umem: umem.handle,
          rxAddr: this.rxAddr,
          rxLen: this.rxLen,
          txAddr: this.txAddr,
          txLen: this.txLen,
          fillBuf: this.fillBuf,
          freeCap: this.stock,
          txqueuelen: o.txqueuelen ?? 10000,
          up: o.up !== false,
        }),
      ctx,
    );
    this.id = r.id;
    this.opened = r.name;
    this.notes = r.notes;
    try {
      const info = call(() => this.n.ifInfo(r.name), ctx);
      this.ifindex = info.ifindex;
      this.mac.set(info.mac.subarray(0, 6));
    } catch (e) {
      this.release();
      this.suspended = true;
      throw e;
    }
    this.fill();
  }

  /** The TAP went away: close the fd now (lent frames return to the pool) until reopen(). */
  suspend(): void {
    if (this.closed || this.suspended) return;
    this.suspended = true;
    this.release();
  }

  get isSuspended(): boolean {
    return this.suspended;
  }

  /** Attach to the TAP of the same name again (re-created: new ifindex). Throws DriverError. */
  reopen(): void {
    if (this.closed) throw new Error(`${this.dev}: port is closed`);
    this.suspend();
    this.open();
    this.suspended = false;
    if (this.lastIrq !== null) this.armIrq(this.lastIrq);
  }

  rx(max: number): number {
    if (this.suspended) return 0;
    if (this.stock - this.lent >= 32) this.fill();
    const n = this.n.tapRx(this.id, max);
    this.lent -= n;
    return n;
  }

  tx(n: number): number {
    if (this.suspended) return 0;
    const k = this.n.tapTx(this.id, n);
    const a = this.txAddr;
    for (let j = 0; j < k; j++) this.pool.free(a[j]);
    return k;
  }

  armIrq(cb: () => void): void {
    this.lastIrq = cb;
    this.irqDeferred = false;
    if (this.suspended) return;
    if (this.lent === 0) this.irqDeferred = true;
    else this.n.tapArmIrq(this.id, cb);
  }

  disarmIrq(): void {
    this.lastIrq = null;
    this.irqDeferred = false;
    if (!this.closed && !this.suspended) this.n.tapDisarmIrq(this.id);
  }

  inFlight(): number {
    return this.lent;
  }

  stats(): Record<string, number> {
    if (this.closed || this.suspended) return {};
    const s = this.n.tapStats(this.id);
    s.frames_lent = this.lent;
    s.rx_alloc_fail = this.allocFail;
    s.fill_starved = this.starve.count;
    return s;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.suspended) this.release();
  }

  private release(): void {
    const out = new Uint32Array(this.stock);
    const k = this.n.tapClose(this.id, out);
    for (let j = 0; j < k; j++) this.pool.free(out[j]);
    this.lent = 0;
    this.starve.starved = false;
    this.irqDeferred = false;
  }

  /** Written frames go back to the pool at once: nothing to reap. */
  reap(): number {
    return 0;
  }

  /**
   * Lend frames up to the stock. Below minLent afterwards the port is starved; with none lent
   * its interrupt stays unarmed (armIrq), so only a later refill() (the poll loop's retry after
   * onStarved) brings it back.
   */
  refill(): boolean {
    return this.suspended || this.closed || this.fill();
  }

  /** refill() on the fd open() just made (reopen() runs it while still suspended). */
  private fill(): boolean {
    const want = this.stock - this.lent;
    const k = this.pool.allocMany(this.fillBuf, want);
    if (k < want) this.allocFail++;
    if (k > 0) {
      const taken = this.n.tapFill(this.id, k);
      this.lent += taken;
      for (let j = taken; j < k; j++) this.pool.free(this.fillBuf[j]);
    }
    if (this.irqDeferred && this.lent > 0 && !this.suspended) {
      this.irqDeferred = false;
      this.n.tapArmIrq(this.id, this.lastIrq!);
    }
    return this.starve.check(this.lent, this.minLent, this.onStarved);
  }
}
