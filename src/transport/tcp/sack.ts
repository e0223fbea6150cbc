import { seqGt, seqLeq, seqLt, seqMax, seqMin } from './seq.ts';

const MAX_RANGES = 32;

/**
 * The sender's SACK scoreboard (the sacked bits of the kernel's retransmit queue): which bytes
 * above snd_una the peer holds, as sorted disjoint [start, end) ranges. Loss recovery asks it for
 * holes (what to retransmit) and for the bytes SACKed (what left the network).
 */
export class SackBoard {
  n = 0;
  /** Bytes in all ranges. */
  bytes = 0;
  private readonly s = new Uint32Array(MAX_RANGES);
  private readonly e = new Uint32Array(MAX_RANGES);
  /** nextHole()'s answer. */
  holeStart = 0;
  holeEnd = 0;

  /** The highest SACKed sequence number, or `una` when none. */
  high(una: number): number {
    return this.n === 0 ? una : this.e[this.n - 1];
  }

  /** Record [start, end), already checked to lie within (una, nxt]. */
  add(start: number, end: number): void {
    // Find the first range that ends at or after start (touching ranges merge).
    let k = 0;
    while (k < this.n && seqLt(this.e[k], start)) k++;
    let j = k;
    let ns = start;
    let ne = end;
    while (j < this.n && seqLeq(this.s[j], ne)) {
      ns = seqMin(ns, this.s[j]);
      ne = seqMax(ne, this.e[j]);
      this.bytes -= (this.e[j] - this.s[j]) >>> 0;
      j++;
    }
    const removed = j - k;
    if (removed === 0) {
      if (this.n === MAX_RANGES) {
        // Full: forget the highest range (it is re-SACKed by the next ACKs anyway).
        if (k === this.n) return;
        this.n--;
        this.bytes -= (this.e[this.n] - this.s[this.n]) >>> 0;
      }
      for (let m = this.n; m > k; m--) {
        this.s[m] = this.s[m - 1];
        this.e[m] = this.e[m - 1];
      }
      this.n++;
    } else if (removed > 1) {
      for (let m = j; m < this.n; m++) {
        this.s[m - removed + 1] = this.s[m];
        this.e[m - removed + 1] = this.e[m];
      }
      this.n -= removed - 1;
    }
    this.s[k] = ns;
    this.e[k] = ne;
    this.bytes += (ne - ns) >>> 0;
  }

  /** Forget everything below una (the cumulative ACK moved). */
  trim(una: number): void {
    let k = 0;
    while (k < this.n && seqLeq(this.e[k], una)) {
      this.bytes -= (this.e[k] - this.s[k]) >>> 0;
      k++;
    }
    if (k > 0) {
      for (let m = k; m < this.n; m++) {
        this.s[m - k] = this.s[m];
        this.e[m - k] = this.e[m];
      }
      this.n -= k;
    }
    if (this.n > 0 && seqLt(this.s[0], una)) {
      this.bytes -= (una - this.s[0]) >>> 0;
      this.s[0] = una;
    }
  }

  /** Bytes SACKed within [a, b). */
  sackedIn(a: number, b: number): number {
    let sum = 0;
    for (let k = 0; k < this.n; k++) {
      const s = this.s[k];
      const e = this.e[k];
      if (seqLeq(e, a)) continue;
      if (seqLeq(b, s)) break;
      sum += (seqMin(e, b) - seqMax(s, a)) >>> 0;
    }
    return sum;
  }

  /** Is byte seq SACKed? */
  has(seq: number): boolean {
    for (let k = 0; k < this.n; k++) {
      if (seqLt(seq, this.s[k])) return false;
      if (seqLt(seq, this.e[k])) return true;
    }
    return false;
  }

  /**
   * The first hole (un-SACKed bytes) at or after `from` and before `limit`: sets holeStart and
   * holeEnd (capped at limit) and returns true, or false when there is none.
   */
  nextHole(from: number, limit: number): boolean {
    let p = from;
    for (let k = 0; k < this.n; k++) {
      if (seqLeq(this.e[k], p)) continue;
      if (seqGt(this.s[k], p)) {
        if (!seqLt(p, limit)) return false;
        this.holeStart = p;
        this.holeEnd = seqMin(this.s[k], limit);
        return true;
      }
      p = this.e[k];
    }
    if (!seqLt(p, limit)) return false;
    this.holeStart = p;
    this.holeEnd = limit;
    return true;
  }

  clear(): void {
    this.n = 0;
    this.bytes = 0;
  }
}
