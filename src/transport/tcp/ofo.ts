import { seqGeq, seqGt, seqLeq, seqLt } from './seq.ts';
import { grown } from '../../core/grow.ts';

/** insert() results. */
export const OFO_QUEUED = 0;
/** Fully covered by what is queued already: the caller frees the frame (a duplicate). */
export const OFO_DUP = 1;

/** Entries a new queue has room for; it doubles when full (the caller's byte bound limits it). */
const OFO_INIT = 16;

/**
 * The out-of-order queue (tcp_ofo_queue's rbtree) of one connection: segments beyond rcv_nxt wait
 * in their own UMEM frames, not copied (most of them are delivered soon, and then copied once,
 * to the application). Held frames are what a lost segment costs the pool, so the caller bounds
 * the queue in bytes — each frame charged at its truesize against the socket's receive memory —
 * and by the sockets' frame share (tcp_try_rmem_schedule); the arrays grow with it. Sorted by sequence number in parallel typed arrays; a segment covered by queued ones
 * is a duplicate, queued ones a new segment covers are let go (their frames returned through
 * `freed`); partial overlaps stay and are trimmed on delivery.
 */
export class OfoQueue {
  n = 0;
  /** Payload bytes held. */
  bytes = 0;
  seq = new Uint32Array(OFO_INIT);
  end = new Uint32Array(OFO_INIT);
  /** Frame address (to free) and payload address. */
  addr = new Uint32Array(OFO_INIT);
  data = new Uint32Array(OFO_INIT);
  fin = new Uint8Array(OFO_INIT);
  /** The segment received last (its SACK block goes first, RFC 2018 4). */
  lastSeq = 0;
  /** Frames insert() let go; the caller frees them and resets freedN. */
  freed = new Uint32Array(OFO_INIT);
  freedN = 0;

  /** Queue [seq, end) (+ FIN) held in the frame at addr, payload at data. */
  insert(seq: number, end: number, addr: number, data: number, fin: number): number {
    let n = this.n;
    // Position: after the last entry that starts at or before seq (mostly the tail).
    let k = n;
    while (k > 0 && seqGt(this.seq[k - 1], seq)) k--;
    // Covered by the previous entry (it starts at or before seq): a duplicate.
    if (k > 0 && seqGeq(this.end[k - 1], end) && (fin === 0 || this.fin[k - 1] !== 0 || this.end[k - 1] !== end)) return OFO_DUP;
    // Entries from k on that the new segment covers go.
    let j = k;
    while (j < n && seqLeq(this.end[j], end)) {
      this.freed[this.freedN++] = this.addr[j];
      this.bytes -= this.end[j] - this.seq[j];
      j++;
    }
    if (j > k) {
      this.shift(j, k);
      n = this.n;
    }
    if (n === this.seq.length) this.grow();
    for (let m = n; m > k; m--) this.move(m - 1, m);
    this.seq[k] = seq;
    this.end[k] = end;
    this.addr[k] = addr;
    this.data[k] = data;
    this.fin[k] = fin;
    this.n = n + 1;
    this.bytes += (end - seq) >>> 0;
    this.lastSeq = seq;
    return OFO_QUEUED;
  }

  /** Remove entry 0 (after delivering or discarding it). */
  popFront(): void {
    this.bytes -= (this.end[0] - this.seq[0]) >>> 0;
    this.shift(1, 0);
  }

  /**
   * The SACK blocks to send (RFC 2018): contiguous runs of queued data, the run holding the latest
   * segment first, then the others from the lowest; at most max. Writes start/end pairs into out.
   */
  sackBlocks(out: Uint32Array, max: number): number {
    if (this.n === 0 || max === 0) return 0;
    let cnt = 1; // slot 0 is kept for the latest run
    let first = false;
    for (let k = 0; k < this.n; ) {
      const s = this.seq[k];
      let e = this.end[k];
      let latest = s === this.lastSeq;
      k++;
      while (k < this.n && seqLeq(this.seq[k], e)) {
        if (seqGt(this.end[k], e)) e = this.end[k];
        if (this.seq[k] === this.lastSeq) latest = true;
        k++;
      }
      if (latest && !first) {
        out[0] = s;
        out[1] = e;
        first = true;
      } else if (cnt < max) {
        out[2 * cnt] = s;
        out[2 * cnt + 1] = e;
        cnt++;
      }
    }
    if (first) return cnt;
    // The latest segment was delivered or dropped meanwhile: close the gap at slot 0.
    for (let m = 1; m < cnt; m++) {
      out[2 * m - 2] = out[2 * m];
      out[2 * m - 1] = out[2 * m + 1];
    }
    return cnt - 1;
  }

  /** Is seq (a byte) queued? */
  has(seq: number): boolean {
    for (let k = 0; k < this.n; k++) if (seqLeq(this.seq[k], seq) && seqLt(seq, this.end[k])) return true;
    return false;
  }

  /** Twice the room (rare: only when the window, and the byte bound with it, grew). */
  private grow(): void {
    const cap = this.seq.length * 2;
    this.seq = grown(this.seq, cap);
    this.end = grown(this.end, cap);
    this.addr = grown(this.addr, cap);
    this.data = grown(this.data, cap);
    this.freed = grown(this.freed, cap);
    this.fin = grown(this.fin, cap);
  }

  private move(from: number, to: number): void {
    this.seq[to] = this.seq[from];
    this.end[to] = this.end[from];
    this.addr[to] = this.addr[from];
    this.data[to] = this.data[from];
    this.fin[to] = this.fin[from];
  }

  /** Remove entries [to, from) by moving the tail down. */
  private shift(from: number, to: number): void {
    const n = this.n;
    for (let m = from; m < n; m++) this.move(m, m - from + to);
    this.n = n - (from - to);
  }
}
