import { FramePool } from './pool.ts';
import { FillStarve } from './fill-starve.ts';
import type { Port } from './port.ts';
import { memoryUmem, type Umem } from './umem.ts';

/**
 * An in-memory port with the same batch interface as AF_XDP and TAP ports, for unprivileged
 * tests and micro benchmarks. Two linked ports share a UMEM: tx on one is rx on the other, by
 * descriptor. A lone port (or either end) also takes crafted frames through inject() and hands
 * transmitted frames to takeTx() / a sink.
 *
 * withRings() gives a port AF_XDP's frame flow (copy mode): a fill ring of frames lent by the
 * pool that arriving frames are copied into (none left: dropped as rx_fill_ring_empty_descs,
 * and no interrupt), and a completion ring where transmitted frames wait for reap(). Without
 * it frames pass by descriptor and transmitted ones return to the pool at once.
 */
export class MemoryPort implements Port {
  readonly mode = 'memory' as const;
  readonly queue = 0;
  readonly ifindex = 0;
  readonly rxAddr: Uint32Array;
  readonly rxLen: Uint32Array;
  readonly txAddr: Uint32Array;
  readonly txLen: Uint32Array;
  peer: MemoryPort | null = null;
  /** When set, transmitted frames go here instead of the peer (then back to the pool). */
  sink: ((u8: Uint8Array, addr: number, len: number) => void) | null = null;
  onStarved: (() => void) | null = null;

  // RX queue: a ring of descriptors waiting to be received.
  private readonly qAddr: Uint32Array;
  private readonly qLen: Uint32Array;
  private qHead = 0;
  private qCount = 0;
  private irq: (() => void) | null = null;
  private irqScheduled = false;
  private closed = false;
  private readonly counters = { rx_packets: 0, rx_bytes: 0, tx_packets: 0, tx_bytes: 0, rx_dropped: 0, tx_dropped: 0 };
  /** Frames transmitted with no peer and no sink, kept for the test to inspect. */
  private readonly held: Array<Uint8Array> = [];
  // withRings(): fill ring (a stack of lent frames), completion ring, their counters.
  private fillCap = 0;
  private fillMin = 0;
  private fillRing = new Uint32Array(0);
  private fillCount = 0;
  private comp = new Uint32Array(0);
  private compCount = 0;
  private readonly starve = new FillStarve();
  private readonly ringCounters = { rx_fill_ring_empty_descs: 0, rx_alloc_fail: 0 };

  constructor(
    readonly name: string,
    readonly umem: Umem,
    readonly pool: FramePool,
    readonly batchSize = 256,
    readonly queueSize = 4096,
    readonly mac = new Uint8Array([0x02, 0, 0, 0, 0, 1]),
  ) {
    this.rxAddr = new Uint32Array(batchSize);
    this.rxLen = new Uint32Array(batchSize);
    this.txAddr = new Uint32Array(batchSize);
    this.txLen = new Uint32Array(batchSize);
    this.qAddr = new Uint32Array(queueSize);
    this.qLen = new Uint32Array(queueSize);
  }

  get dev(): string {
    return this.name;
  }

  /** A linked pair sharing one UMEM and pool. */
  static pair(frames = 4096, batchSize = 256): [MemoryPort, MemoryPort] {
    const umem = memoryUmem(frames);
    const pool = new FramePool(umem);
    const a = new MemoryPort('mem0', umem, pool, batchSize, 4096, new Uint8Array([0x02, 0, 0, 0, 0, 0xa0]));
    const b = new MemoryPort('mem1', umem, pool, batchSize, 4096, new Uint8Array([0x02, 0, 0, 0, 0, 0xb0]));
    a.peer = b;
    b.peer = a;
    return [a, b];
  }

  /**
   * Use a fill ring of `fillFrames` frames and a completion ring (see the class comment); the
   * fill ring is filled now. A port below min(32, fillFrames / 4) fill frames is starved.
   */
  withRings(fillFrames: number): this {
    if (this.fillCap > 0) throw new Error(`${this.name}: rings already set`);
    if (!(fillFrames >= 1)) throw new Error(`${this.name}: fillFrames ${fillFrames} must be ≥ 1`);
    this.fillCap = fillFrames;
    this.fillMin = Math.max(1, Math.min(32, fillFrames >> 2));
    this.fillRing = new Uint32Array(fillFrames);
    // tx() reaps before it sends, so the ring never holds more than one batch.
    this.comp = new Uint32Array(this.batchSize);
    this.fill();
    return this;
  }

  /**
   * Queue a crafted frame for reception (copies it into a pool frame, or a fill frame with
   * rings). False if full (or, with rings, no fill frame: counted as the kernel does).
   */
  inject(frame: Uint8Array): boolean {
    const addr = this.fillCap > 0 ? this.takeFill() : this.pool.alloc();
    if (addr < 0) return false;
    const room = this.umem.frameSize - this.umem.headroom;
    const len = Math.min(frame.length, room);
    this.umem.u8.set(frame.subarray(0, len), addr);
    if (!this.enqueue(addr, len)) {
      this.pool.free(addr);
      return false;
    }
    return true;
  }

  /** Frames transmitted while no peer and no sink was set; empties the list. */
  takeTx(): Uint8Array[] {
    return this.held.splice(0);
  }

  /** Descriptors waiting to be received. */
  pending(): number {
    return this.qCount;
  }

  rx(max: number): number {
    if (max > this.batchSize) max = this.batchSize;
    const n = max < this.qCount ? max : this.qCount;
    let h = this.qHead;
    const size = this.queueSize;
    let bytes = 0;
    for (let j = 0; j < n; j++) {
      this.rxAddr[j] = this.qAddr[h];
      bytes += this.rxLen[j] = this.qLen[h];
      if (++h === size) h = 0;
    }
    this.qHead = h;
    this.qCount -= n;
    this.counters.rx_packets += n;
    this.counters.rx_bytes += bytes;
    if (this.fillCap > 0) {
      if (this.compCount > 0) this.reap();
      if (this.fillCap - this.fillCount >= this.fillMin) this.fill();
    }
    return n;
  }

  reap(): number {
    const c = this.compCount;
    for (let j = 0; j < c; j++) this.pool.free(this.comp[j]);
    this.compCount = 0;
    return c;
  }

  refill(): boolean {
    return this.fillCap === 0 || this.closed || this.fill();
  }

  /** Fill ring up to fillCap from the pool; false (starved, onStarved on the way in) below fillMin. */
  private fill(): boolean {
    const want = this.fillCap - this.fillCount;
    let k = 0;
    for (; k < want; k++) {
      const a = this.pool.alloc();
      if (a < 0) break;
      this.fillRing[this.fillCount++] = a;
    }
    if (k < want) this.ringCounters.rx_alloc_fail++;
    return this.starve.check(this.fillCount, this.fillMin, this.onStarved);
  }

  /** A fill frame for an arriving frame, or -1 (dropped and counted: no fill frame, RX queue full). */
  private takeFill(): number {
    if (this.closed) return -1;
    if (this.qCount === this.queueSize) {
      this.counters.rx_dropped++;
      return -1;
    }
    if (this.fillCount === 0) {
      this.ringCounters.rx_fill_ring_empty_descs++;
      return -1;
    }
    return this.fillRing[--this.fillCount];
  }

  /** A transmitted frame is done with: to the completion ring (rings), else to the pool. */
  private complete(addr: number): void {
    if (this.fillCap > 0) this.comp[this.compCount++] = addr;
    else this.pool.free(addr);
  }

  tx(n: number): number {
    if (this.compCount > 0) this.reap();
    const peer = this.peer;
    let sent = 0;
    let bytes = 0;
    for (let j = 0; j < n; j++) {
      const addr = this.txAddr[j];
      const len = this.txLen[j];
      if (this.sink !== null) {
        this.sink(this.umem.u8, addr, len);
        this.complete(addr);
      } else if (peer !== null && peer.fillCap > 0) {
        // Copy mode: the frame lands in one of the peer's fill frames (or is dropped there).
        const dst = peer.takeFill();
        if (dst >= 0) {
          const room = peer.umem.frameSize - peer.umem.headroom;
          const k = len < room ? len : room;
          if (peer.umem.u8 === this.umem.u8) peer.umem.u8.copyWithin(dst, addr, addr + k);
          else peer.umem.u8.set(this.umem.u8.subarray(addr, addr + k), dst);
          peer.enqueue(dst, k);
        }
        this.complete(addr);
      } else if (peer !== null) {
        if (!peer.enqueue(addr, len)) {
          // The peer's queue is full: the "wire" drops it, as a full RX ring would.
          peer.counters.rx_dropped++;
          this.complete(addr);
        }
      } else {
        this.held.push(this.umem.u8.slice(addr, addr + len));
        this.complete(addr);
      }
      sent++;
      bytes += len;
    }
    this.counters.tx_packets += sent;
    this.counters.tx_bytes += bytes;
    return sent;
  }

  armIrq(cb: () => void): void {
    this.irq = cb;
    if (this.qCount > 0) this.raise();
  }

  disarmIrq(): void {
    this.irq = null;
  }

  inFlight(): number {
    return this.qCount + this.fillCount + this.compCount;
  }

  stats(): Record<string, number> {
    if (this.fillCap === 0) return { ...this.counters };
    return { ...this.counters, ...this.ringCounters, fill_starved: this.starve.count, fill_held: this.fillCount, tx_outstanding: this.compCount };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.irq = null;
    while (this.qCount > 0) {
      this.pool.free(this.qAddr[this.qHead]);
      if (++this.qHead === this.queueSize) this.qHead = 0;
      this.qCount--;
    }
    this.reap();
    for (let j = 0; j < this.fillCount; j++) this.pool.free(this.fillRing[j]);
    this.fillCount = 0;
  }

  private enqueue(addr: number, len: number): boolean {
    if (this.qCount === this.queueSize || this.closed) return false;
    let t = this.qHead + this.qCount;
    if (t >= this.queueSize) t -= this.queueSize;
    this.qAddr[t] = addr;
    this.qLen[t] = len;
    this.qCount++;
    if (this.irq !== null) this.raise();
    return true;
  }

  private raise(): void {
    if (this.irqScheduled) return;
    this.irqScheduled = true;
    // Like a real interrupt, delivered asynchronously: never re-enter the poll loop from tx().
    // One Immediate per event-loop turn for all memory ports (interrupt coalescing): an
    // Immediate is garbage, and one per raise made the scavenges of the no-GC test.
    raised.push(this);
    if (!deliverScheduled) {
      deliverScheduled = true;
      setImmediate(deliver);
    }
  }

  /** Called by deliver(): run the armed callback once if frames are waiting. */
  fire(): void {
    this.irqScheduled = false;
    const cb = this.irq;
    if (cb !== null && this.qCount > 0) {
      this.irq = null;
      cb();
    }
  }
}

const raised: MemoryPort[] = [];
let deliverScheduled = false;

function deliver(): void {
  deliverScheduled = false;
  // Ports raised while delivering are taken by the next Immediate.
  const n = raised.length;
  for (let k = 0; k < n; k++) raised[k].fire();
  const m = raised.length;
  for (let k = n; k < m; k++) raised[k - n] = raised[k];
  raised.length = m - n;
}
