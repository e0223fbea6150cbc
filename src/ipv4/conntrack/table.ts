/**
 * The conntrack table (nf_conntrack_core.c's hash and struct nf_conn), struct of arrays: an
 * entry is an index e; its original tuple is words tup[e*8 .. e*8+3], its reply tuple
 * tup[e*8+4 .. e*8+7] (src, dst, ports, proto; tuple.ts). The hash holds both directions as
 * nodes e*2+dir (nf_conntrack_tuple_hash), chained through hnext, so one lookup finds a packet's
 * entry and its direction. Buckets are fixed at creation; the entry columns start small and
 * double up to nf_conntrack_max (a flood grows the table once, then it stays flat). Free entries
 * wait in a FIFO ring, so an index is reused as late as possible (a packet of this dispatch may
 * still name an entry that was just killed).
 */

import { IP_CT_DIR_REPLY } from './common.ts';
import { tupleHash } from './tuple.ts';
import { grown } from '../../core/grow.ts';

const INITIAL = 1024;

export class CtTable {
  /** Entry slots allocated so far (columns' length / stride). */
  cap = 0;
  /** Entries in use (nf_conntrack_count: unconfirmed ones included). */
  count = 0;
  readonly buckets: number;
  private readonly mask: number;
  /** Hash chain heads: node e*2+dir, -1 empty. */
  readonly heads: Int32Array;
  /** Random per table (nf_conntrack_hash_rnd): chains cannot be aimed at from outside. */
  readonly seed: number;

  // ---- per entry -------------------------------------------------------------------------------
  /** [e*8 + dir*4 + k]: k = 0 src, 1 dst, 2 ports word, 3 protocol. */
  tup = new Uint32Array(0);
  /**
   * The same words as int32 (a view of tup's buffer): lookups compare these, so tuple words move
   * between functions as small integers, never as boxed doubles (a u32 >= 2^31 is a heap number).
   */
  tupI = new Int32Array(0);
  /** Next node in the chain, per node e*2+dir. */
  hnext = new Int32Array(0);
  /** IPS_* bits. */
  status = new Uint32Array(0);
  /** ct->mark (CONNMARK's; 0 until something sets it). */
  mark = new Uint32Array(0);
  /** When the entry expires (ms), refreshed per packet; armed: when its timer is set to fire. */
  expires = new Float64Array(0);
  armed = new Float64Array(0);
  /** Creation time (ms): UDP's stream timeout starts 2 s after it. */
  start = new Float64Array(0);
  /** The protocol's state (TCP_CONNTRACK_*; 0 for the others). */
  state = new Uint8Array(0);
  /** TCP window tracking per direction, [e*8 + dir*4 + k]: k = 0 td_end, 1 td_maxend, 2 td_maxwin, 3 td_maxack. */
  tcpSeen = new Uint32Array(0);
  /** Per direction [e*2+dir]: td_scale and IP_CT_TCP_FLAG_* bits. */
  tcpScale = new Uint8Array(0);
  tcpFlags = new Uint8Array(0);
  /** The last segment seen, [e*4 + k]: k = 0 last_seq, 1 last_ack, 2 last_end, 3 last_win. */
  tcpLast = new Uint32Array(0);
  /** [e*8 + k]: k = 0 last_dir, 1 last_index, 2 last_wscale, 3 last_flags, 4 retrans. */
  tcpLastB = new Uint8Array(0);
  /** One int the NAT layer owns per entry (its by-source chain); -1 unless it sets it. */
  nat = new Int32Array(0);

  private freeRing = new Int32Array(0);
  private freeHead = 0;
  private freeN = 0;

  constructor(
    buckets: number,
    seed: number,
    /** Called for each entry index the first time it exists (its timer is made here). */
    private readonly onNew: (e: number) => void,
  ) {
    if (buckets < 1 || (buckets & (buckets - 1)) !== 0) throw new Error(`conntrack: ${buckets} buckets is not a power of two`);
    this.buckets = buckets;
    this.mask = buckets - 1;
    this.heads = new Int32Array(buckets).fill(-1);
    this.seed = seed >>> 0;
  }

  /** The chain of a tuple. */
  bucket(src: number, dst: number, ports: number, proto: number): number {
    return tupleHash(this.seed, src, dst, ports, proto) & this.mask;
  }

  /** The node (e*2+dir) whose tuple this is, or -1 (____nf_conntrack_find). */
  find(src: number, dst: number, ports: number, proto: number): number {
    src |= 0;
    dst |= 0;
    ports |= 0;
    const tup = this.tupI;
    const next = this.hnext;
    for (let n = this.heads[this.bucket(src, dst, ports, proto)]; n >= 0; n = next[n]) {
      const o = n << 2;
      if (tup[o] === src && tup[o + 1] === dst && tup[o + 2] === ports && tup[o + 3] === proto) return n;
    }
    return -1;
  }

  /** Put both directions of e in the hash (__nf_conntrack_hash_insert). */
  hash(e: number): void {
    for (let d = 0; d < 2; d++) {
      const n = e * 2 + d;
      const o = n << 2;
      const b = this.bucket(this.tup[o], this.tup[o + 1], this.tup[o + 2], this.tup[o + 3]);
      this.hnext[n] = this.heads[b];
      this.heads[b] = n;
    }
  }

  /** Take both directions of e out of the hash. */
  unhash(e: number): void {
    for (let d = 0; d < 2; d++) this.unlinkNode(e * 2 + d);
  }

  /** Re-hash e's reply direction after its reply tuple changed (nf_conntrack_alter_reply, for NAT). */
  rehashReply(e: number, oldSrc: number, oldDst: number, oldPorts: number, oldProto: number): void {
    const n = e * 2 + IP_CT_DIR_REPLY;
    this.unlinkNode(n, this.bucket(oldSrc, oldDst, oldPorts, oldProto));
    const o = n << 2;
    const b = this.bucket(this.tup[o], this.tup[o + 1], this.tup[o + 2], this.tup[o + 3]);
    this.hnext[n] = this.heads[b];
    this.heads[b] = n;
  }

  private unlinkNode(n: number, b = -1): void {
    const o = n << 2;
    if (b < 0) b = this.bucket(this.tup[o], this.tup[o + 1], this.tup[o + 2], this.tup[o + 3]);
    let p = -1;
    for (let x = this.heads[b]; x >= 0; x = this.hnext[x]) {
      if (x === n) {
        if (p < 0) this.heads[b] = this.hnext[x];
        else this.hnext[p] = this.hnext[x];
        return;
      }
      p = x;
    }
  }

  /** A free entry, growing the columns up to `max` entries; -1 when there is none. */
  alloc(max: number): number {
    if (this.count >= max) return -1;
    if (this.freeN === 0 && !this.grow(max)) return -1;
    const e = this.freeRing[this.freeHead];
    this.freeHead = this.freeHead + 1 === this.freeRing.length ? 0 : this.freeHead + 1;
    this.freeN--;
    this.count++;
    return e;
  }

  /** Give e back (its hash nodes must be unlinked already). */
  free(e: number): void {
    this.status[e] = 0;
    const r = this.freeRing;
    let t = this.freeHead + this.freeN;
    if (t >= r.length) t -= r.length;
    r[t] = e;
    this.freeN++;
    this.count--;
  }

  /** Entries in the hash (confirmed), for dumps: calls fn(e) once per entry. Control plane. */
  forEach(fn: (e: number) => void): void {
    for (let b = 0; b < this.buckets; b++) {
      for (let n = this.heads[b]; n >= 0; n = this.hnext[n]) if ((n & 1) === 0) fn(n >> 1);
    }
  }

  /** Bytes the columns take now (for the README's sizing). */
  bytes(): number {
    let s = this.heads.byteLength + this.freeRing.byteLength;
    for (const c of [this.tup, this.hnext, this.status, this.mark, this.expires, this.armed, this.start, this.state, this.tcpSeen, this.tcpScale, this.tcpFlags, this.tcpLast, this.tcpLastB, this.nat]) s += c.byteLength;
    return s;
  }

  /** Double the columns (not beyond max): a rare step while a table fills, never once it is full. */
  private grow(max: number): boolean {
    const old = this.cap;
    const cap = Math.min(old === 0 ? INITIAL : old * 2, Math.max(max, 1));
    if (cap <= old) return false;
    this.tup = grown(this.tup, cap * 8);
    this.tupI = new Int32Array(this.tup.buffer);
    this.hnext = grown(this.hnext, cap * 2);
    this.status = grown(this.status, cap);
    this.mark = grown(this.mark, cap);
    this.expires = grown(this.expires, cap);
    this.armed = grown(this.armed, cap);
    this.start = grown(this.start, cap);
    this.state = grown(this.state, cap);
    this.tcpSeen = grown(this.tcpSeen, cap * 8);
    this.tcpScale = grown(this.tcpScale, cap * 2);
    this.tcpFlags = grown(this.tcpFlags, cap * 2);
    this.tcpLast = grown(this.tcpLast, cap * 4);
    this.tcpLastB = grown(this.tcpLastB, cap * 8);
    this.nat = grown(this.nat, cap, -1);
    // The free ring is empty when growing: restart it with the new indices in order.
    this.freeRing = new Int32Array(cap);
    this.freeHead = 0;
    this.freeN = 0;
    for (let e = old; e < cap; e++) {
      this.freeRing[this.freeN++] = e;
      this.onNew(e);
    }
    this.cap = cap;
    return true;
  }
}
