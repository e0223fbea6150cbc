import { Batch } from '../core/batch.ts';
import type { Graph } from '../core/graph.ts';
import { ETH_HLEN } from '../wire/ethernet.ts';

/**
 * The way back into the graph for frames that do not come from the batch being dispatched:
 * ARP requests we originate and packets released from a neighbour's pending queue when its
 * address resolves (the kernel's dev_queue_xmit from a timer or from arp_rcv).
 *
 * Why a ring and a second dispatch rather than pushing onto the current batch: the current batch
 * may be full, stages cannot re-enter Graph.dispatch while it runs, and these frames are rare.
 * So push() only records the descriptor (bounded; a full ring drops and counts), and drain()
 * dispatches the ring in batches of at most the graph's capacity, entering at `dev-xmit` (or the
 * stage given). drain() must be called outside any stage's run(): from a stage's flush() (the
 * graph calls flush after a dispatch, when it is safe to dispatch again) or from a timer.
 * Frames are complete Ethernet frames starting at addr (l3 = 14).
 */
export class Originate {
  private readonly qAddr: Uint32Array;
  private readonly qLen: Uint16Array;
  private readonly qOif: Uint8Array;
  private head = 0;
  private count = 0;
  private readonly out: Batch;
  private draining = false;
  private readonly rFull: number;

  constructor(
    readonly g: Graph,
    readonly stageName = 'dev-xmit',
    readonly size = 1024,
  ) {
    this.qAddr = new Uint32Array(size);
    this.qLen = new Uint16Array(size);
    this.qOif = new Uint8Array(size);
    this.out = new Batch(g.capacity);
    this.rFull = g.reason('softnet.originate_full');
  }

  /** Frames waiting to be dispatched. */
  get pending(): number {
    return this.count;
  }

  /** Queue a frame (ownership moves here). When full the frame is freed and counted; false. */
  push(addr: number, len: number, oif: number): boolean {
    if (this.count === this.size) {
      this.g.drops.v[this.rFull]++;
      this.g.pool.free(addr);
      return false;
    }
    let t = this.head + this.count;
    if (t >= this.size) t -= this.size;
    this.qAddr[t] = addr;
    this.qLen[t] = len;
    this.qOif[t] = oif;
    this.count++;
    return true;
  }

  /** Dispatch everything queued. Safe to call when empty or while already draining (no-op). */
  drain(): void {
    if (this.count === 0 || this.draining) return;
    this.draining = true;
    try {
      const entry = this.g.id(this.stageName);
      const b = this.out;
      while (this.count > 0) {
        b.n = 0;
        while (this.count > 0 && b.n < b.capacity) {
          const h = this.head;
          const i = b.push(this.qAddr[h], this.qLen[h], this.qOif[h]);
          b.oif[i] = this.qOif[h];
          b.l3[i] = ETH_HLEN;
          this.head = h + 1 === this.size ? 0 : h + 1;
          this.count--;
        }
        this.g.dispatch(b, entry);
      }
    } finally {
      this.draining = false;
    }
  }

  /** Free every queued frame (shutdown, frame accounting). */
  clear(): void {
    while (this.count > 0) {
      this.g.pool.free(this.qAddr[this.head]);
      this.head = this.head + 1 === this.size ? 0 : this.head + 1;
      this.count--;
    }
  }
}
