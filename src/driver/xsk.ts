// An AF_XDP socket on one queue of one device: the Port interface over the native rings.
//
// Frame accounting: `fillHeld` counts frames lent to the fill ring that have not come back on the
// RX ring (they may sit in the fill ring, inside the kernel or in the RX ring); `txOut` counts
// frames given to tx() that have not come back through the completion ring. The native side keeps
// a bitmap of exactly those frames, so close() can return each of them to the pool.
import type { FramePool } from './pool.ts';
import { FillStarve } from './fill-starve.ts';
import { DriverError, type Port, type PortMode } from './port.ts';
import type { Umem } from './umem.ts';
import { call, native, sleepSync, type NativeAddon, type XdpProgramFds } from './native.ts';

export interface XskOptions {
  name?: string;
  dev: string;
  queue?: number;
  mode: 'xdp-zc' | 'xdp-drv' | 'xdp-skb';
  umem: Umem;
  pool: FramePool;
  batchSize?: number;
  busyPoll?: boolean;
  /** Ring sizes (powers of two). Default 2048 each. */
  ringSize?: number;
  /** Frames kept lent to the fill ring. Default min(ringSize, pool.total / 4). */
  fillFrames?: number;
  /** Prefetch each received frame's first cache line in rx() (default true): see native xskRx. */
  prefetch?: boolean;
  /** Attach the redirect program (default true). A TX-only socket (the generator) needs none. */
  attach?: boolean;
  /** A compiled XDP filter to link instead of the redirect program (src/bpf/attach.ts). */
  program?: XdpProgramFds;
}

/** EBUSY on bind: the kernel tears a closed socket down lazily; retry for about 1.5 s. */
const BUSY_BACKOFF_MS = [50, 100, 200, 400, 750];

export class XskPort implements Port {
  readonly name: string;
  readonly dev: string;
  readonly queue: number;
  readonly mode: PortMode;
  readonly batchSize: number;
  /** Device MAC and index: refreshed by reopen() (a re-created device has new ones). */
  readonly mac: Uint8Array;
  ifindex: number;
  readonly rxAddr: Uint32Array;
  readonly rxLen: Uint32Array;
  readonly txAddr: Uint32Array;
  readonly txLen: Uint32Array;
  /** Setup notes (busy poll, TX budget): what was not available and why. */
  notes: string[];
  zeroCopy: boolean;
  /** True when this socket shares a UMEM registered by another of our sockets. */
  shared: boolean;
  onStarved: (() => void) | null = null;

  private readonly n: NativeAddon;
  private id = -1;
  private readonly fillBuf: Uint32Array;
  private readonly compBuf: Uint32Array;
  private readonly fillTarget: number;
  private readonly refillMin: number;
  private readonly txRing: number;
  private fillHeld = 0;
  private txOut = 0;
  /** The fill ring is below refillMin and the pool had no more (see Port.refill). */
  private readonly starve = new FillStarve();
  private allocFail = 0;
  private closed = false;
  /** The socket is closed until reopen() (its device went away): rx/tx do nothing. */
  private suspended = false;
  /** The interrupt callback last asked for: re-armed on the new socket by reopen(). */
  private lastIrq: (() => void) | null = null;
  private readonly opts: XskOptions;

  constructor(o: XskOptions, readonly umem: Umem, readonly pool: FramePool) {
    if (umem.handle < 0) throw new Error(`${o.dev}: AF_XDP needs a native UMEM (nativeUmem()), not a memory one`);
    this.n = native();
    this.dev = o.dev;
    this.name = o.name ?? o.dev;
    this.queue = o.queue ?? 0;
    this.mode = o.mode;
    this.batchSize = o.batchSize ?? 256;
    const ring = o.ringSize ?? 2048;
    this.txRing = ring;
    this.fillTarget = Math.min(ring, o.fillFrames ?? Math.max(64, pool.total >> 2));
    this.refillMin = Math.min(32, this.fillTarget >> 2);
    this.rxAddr = new Uint32Array(this.batchSize);
    this.rxLen = new Uint32Array(this.batchSize);
    this.txAddr = new Uint32Array(this.batchSize);
    this.txLen = new Uint32Array(this.batchSize);
    this.fillBuf = new Uint32Array(ring);
    this.compBuf = new Uint32Array(ring);
    this.opts = o;
    this.ifindex = 0;
    this.mac = new Uint8Array(6);
    this.notes = [];
    this.zeroCopy = false;
    this.shared = false;
    this.open();
  }

  /** Open the socket on the device as it is now (ifindex, MAC), attach, fill. */
  private open(): void {
    const o = this.opts;
    const umem = this.umem;
    const ring = this.txRing;
    const ctx = { dev: o.dev, queue: this.queue, mode: o.mode, umemBytes: umem.frames * umem.frameSize };
    const info = call(() => this.n.ifInfo(o.dev), ctx);
    this.ifindex = info.ifindex;
    this.mac.set(info.mac.subarray(0, 6));
    const args = {
      umem: umem.handle,
      ifindex: info.ifindex,
      queue: this.queue,
      zeroCopy: o.mode === 'xdp-zc',
      fillSize: ring,
      compSize: ring,
      rxSize: ring,
      txSize: ring,
      rxAddr: this.rxAddr,
      rxLen: this.rxLen,
      txAddr: this.txAddr,
      txLen: this.txLen,
      fillBuf: this.fillBuf,
      compBuf: this.compBuf,
      busyPoll: o.busyPoll === true,
      prefetch: o.prefetch !== false,
      busyPollBudget: this.batchSize,
    };
    let r: ReturnType<NativeAddon['xskOpen']> | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        r = call(() => this.n.xskOpen(args), ctx);
        break;
      } catch (e) {
        const busy = e instanceof DriverError && e.errno === 'EBUSY' && e.syscall === 'bind(AF_XDP)';
        if (!busy || attempt >= BUSY_BACKOFF_MS.length) throw e;
        sleepSync(BUSY_BACKOFF_MS[attempt]);
      }
    }
    this.id = r.id;
    this.zeroCopy = r.zeroCopy;
    this.shared = r.shared;
    this.notes = r.notes;
    if (o.attach !== false) {
      try {
        call(() => this.n.xskAttach(this.id, o.mode === 'xdp-skb', o.program), ctx);
      } catch (e) {
        this.release();
        this.suspended = true;
        throw e;
      }
    }
    this.fill();
  }

  /**
   * The device went away (deleted, moved to another namespace): close the socket now (its frames
   * return to the pool, the XDP link is dropped) and do nothing until reopen().
   */
  suspend(): void {
    if (this.closed || this.suspended) return;
    this.suspended = true;
    this.release();
  }

  get isSuspended(): boolean {
    return this.suspended;
  }

  /**
   * Open the socket again on the device of the same name (possibly re-created: a new ifindex
   * and MAC), with the same descriptor arrays and UMEM. EBUSY is retried as at first open.
   * Throws DriverError; the port then stays suspended.
   */
  reopen(): void {
    if (this.closed) throw new Error(`${this.dev}: port is closed`);
    this.suspend();
    this.open();
    this.suspended = false;
    if (this.lastIrq !== null) this.n.xskArmIrq(this.id, this.lastIrq);
  }

  rx(max: number): number {
    if (this.suspended) return 0;
    const n = this.n.xskRx(this.id, max);
    this.fillHeld -= n;
    // Reap first: completed frames can go straight back into the fill ring.
    if (this.txOut > 0) this.reap();
    if (this.fillTarget - this.fillHeld >= this.refillMin) this.fill();
    return n;
  }

  tx(n: number): number {
    if (this.suspended) return 0;
    // Reap on every send, as a driver cleans its TX ring in each NAPI poll: completions left
    // until the ring fills hold up to txRing frames away from the pool, which then starves the
    // other ports' fill rings (a port with an empty fill ring receives nothing, so it is never
    // polled to refill: with three ports a forwarded flood stopped the receiving port for good).
    if (this.txOut > 0) this.reap();
    const k = this.n.xskTx(this.id, n);
    this.txOut += k;
    return k;
  }

  /** Take finished TX frames back into the pool (rx() does this too). */
  reap(): number {
    if (this.suspended || this.closed) return 0;
    const c = this.n.xskComplete(this.id);
    const buf = this.compBuf;
    const pool = this.pool;
    for (let j = 0; j < c; j++) pool.free(buf[j]);
    this.txOut -= c;
    return c;
  }

  armIrq(cb: () => void): void {
    this.lastIrq = cb;
    if (!this.suspended) this.n.xskArmIrq(this.id, cb);
  }

  disarmIrq(): void {
    this.lastIrq = null;
    if (!this.closed && !this.suspended) this.n.xskDisarmIrq(this.id);
  }

  inFlight(): number {
    return this.fillHeld + this.txOut;
  }

  stats(): Record<string, number> {
    if (this.closed || this.suspended) return {};
    const s = this.n.xskStats(this.id);
    s.fill_held = this.fillHeld;
    s.tx_outstanding = this.txOut;
    s.rx_alloc_fail = this.allocFail;
    s.fill_starved = this.starve.count;
    return s;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.suspended) this.release();
  }

  /** Close the native socket and take back every frame it held. */
  private release(): void {
    const out = new Uint32Array(this.umem.frames);
    const k = this.n.xskClose(this.id, out);
    for (let j = 0; j < k; j++) this.pool.free(out[j]);
    if (k !== this.fillHeld + this.txOut)
      process.emitWarning(`${this.dev}: xsk close returned ${k} frames, expected ${this.fillHeld + this.txOut}`);
    this.fillHeld = 0;
    this.txOut = 0;
    this.starve.starved = false;
  }

  /**
   * Fill the fill ring up to fillTarget. Below refillMin afterwards the port is starved: with
   * an empty fill ring the kernel drops what arrives (rx_fill_ring_empty_descs), so no
   * interrupt comes and rx() would never run again to refill; onStarved asks the poll loop to
   * call this again later.
   */
  refill(): boolean {
    return this.suspended || this.closed || this.fill();
  }

  /** refill() on the socket open() just made (reopen() runs it while still suspended). */
  private fill(): boolean {
    const want = this.fillTarget - this.fillHeld;
    if (want > 0) {
      const k = this.pool.allocMany(this.fillBuf, want);
      if (k < want) this.allocFail++;
      if (k > 0) {
        const taken = this.n.xskFill(this.id, k);
        this.fillHeld += taken;
        // The ring had less room than we thought (cannot happen while fillTarget <= ring size).
        for (let j = taken; j < k; j++) this.pool.free(this.fillBuf[j]);
      }
    }
    return this.starve.check(this.fillHeld, this.refillMin, this.onStarved);
  }
}
