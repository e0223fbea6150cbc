import { Batch } from '../core/batch.ts';
import type { Graph } from '../core/graph.ts';
import { ICMP_EXC_FRAGTIME, ICMP_TIME_EXCEEDED } from '../wire/icmp.ts';
import { IP_DF, IP_MF, IP_OFFSET, IPV4_FRAG_OFF, IPV4_HLEN, IPV4_ID, IPV4_TOT_LEN, ipDaddr, ipFragOff, ipIhl, ipProto, ipSaddr, ipSendCheck } from '../wire/ipv4.ts';
import { RTCF_LOCAL, type Ipv4Ctx } from './ctx.ts';
import type { IcmpSender } from './icmp-send.ts';
import { IP } from './mib.ts';

const FIRST_IN = 1;
const LAST_IN = 2;

/**
 * ip_defrag for local delivery (net/ipv4/ip_fragment.c + inet_fragment.c), on typed arrays.
 * Fragments stay in their own frames (the queue owns them) until the datagram is complete; then
 * it is built in ONE new pool frame that replaces the last fragment's batch slot, so the packet
 * continues through ip-local-deliver as if it had arrived whole. Consequence: a datagram larger
 * than a frame (frame size - headroom - L2 header, ~1.7 KiB by default) cannot be reassembled and
 * fails as oversize.
 *
 * Linux semantics kept: a fragment entirely inside data already queued is a duplicate (dropped,
 * queue kept); any partial overlap kills the whole queue (RFC 5722 as Linux applies it to IPv4,
 * ReasmOverlaps); a last fragment disagreeing with the known length, data past the end, or an
 * empty fragment kill the queue; MF fragments are trimmed to a multiple of 8. Bounded: frames held
 * count at full frame size against ipfrag_high_thresh, at most ipfrag_max_queues queues,
 * ipfrag_time seconds per queue (ReasmTimeout). When a fragment does not fit, the oldest other
 * queues are evicted (ReasmFails each), as inet_frag_evictor did before 4.17: both limits are far
 * below Linux's 4 MiB, and refusing instead would let 64 never-completed fragments (or 128 frames
 * of them) deny reassembly to everyone for ipfrag_time. A datagram whose fragments arrive
 * together still completes under such a flood. Expiry is checked on every fragment and by expire() (call it from a timer).
 * A queue that expires holding its first fragment answers ICMP time exceeded (fragment
 * reassembly time exceeded), as ip_expire does: the first fragment's frame becomes the error.
 */
export class IpDefrag {
  // Queues.
  private readonly qUsed: Uint8Array;
  private readonly qSaddr: Uint32Array;
  private readonly qDaddr: Uint32Array;
  private readonly qId: Uint16Array;
  private readonly qProto: Uint8Array;
  private readonly qFlags: Uint8Array;
  private readonly qDf: Uint8Array;
  private readonly qLen: Int32Array;
  private readonly qMeat: Int32Array;
  private readonly qHead: Int32Array;
  private readonly qExpires: Float64Array;
  // Fragments (a sorted singly linked list per queue).
  private readonly fAddr: Uint32Array;
  private readonly fL3: Uint16Array;
  private readonly fIhl: Uint16Array;
  private readonly fOff: Int32Array;
  private readonly fEnd: Int32Array;
  private readonly fNext: Int32Array;
  private readonly fIif: Uint8Array;
  private readonly fFree: Int32Array;
  private fTop: number;

  private queues = 0;
  /** Bytes held (frames at full size), the frag_mem_limit of Linux. */
  mem = 0;
  private nextExpiry = Infinity;
  private g: Graph | null = null;
  private sOutput = -1;
  /** Time-exceeded errors built by a timer-driven expire(), dispatched to ip-output. */
  private readonly errBatch = new Batch(16);
  private rFails = 0;
  private rDup = 0;

  /** Set by the layer: builds the time-exceeded errors. */
  icmp: IcmpSender | null = null;

  constructor(
    private readonly ctx: Ipv4Ctx,
    readonly maxQueues = ctx.sysctl.ipfrag_max_queues,
    readonly maxFrags = Math.max(16, Math.ceil(ctx.sysctl.ipfrag_high_thresh / ctx.pool.umem.frameSize) + 1),
  ) {
    const Q = maxQueues;
    this.qUsed = new Uint8Array(Q);
    this.qSaddr = new Uint32Array(Q);
    this.qDaddr = new Uint32Array(Q);
    this.qId = new Uint16Array(Q);
    this.qProto = new Uint8Array(Q);
    this.qFlags = new Uint8Array(Q);
    this.qDf = new Uint8Array(Q);
    this.qLen = new Int32Array(Q);
    this.qMeat = new Int32Array(Q);
    this.qHead = new Int32Array(Q);
    this.qExpires = new Float64Array(Q);
    const F = maxFrags;
    this.fAddr = new Uint32Array(F);
    this.fL3 = new Uint16Array(F);
    this.fIhl = new Uint16Array(F);
    this.fOff = new Int32Array(F);
    this.fEnd = new Int32Array(F);
    this.fNext = new Int32Array(F);
    this.fIif = new Uint8Array(F);
    this.fFree = new Int32Array(F);
    for (let k = 0; k < F; k++) this.fFree[k] = F - 1 - k;
    this.fTop = F;
  }

  init(g: Graph): void {
    this.g = g;
    this.sOutput = g.id('ip-output');
    this.rFails = g.reason('ip.ReasmFails');
    this.rDup = g.reason('ip.frag_dup');
  }

  /** Reassembly queues alive. */
  get queueCount(): number {
    return this.queues;
  }

  /** Frames the queues hold (for frame accounting). */
  held(): number {
    return this.maxFrags - this.fTop;
  }

  /**
   * Queue fragment i. Returns true when i is now the complete datagram (in a new frame), false
   * when the fragment was taken (queued) or dropped (counted).
   */
  defrag(b: Batch, i: number): boolean {
    const ctx = this.ctx;
    const m = ctx.mib.ip.v;
    const now = ctx.now();
    if (now >= this.nextExpiry) this.expire(now, b);
    m[IP.ReasmReqds]++;
    const dv = ctx.dv;
    const l3 = b.l3[i];
    const a = b.addr[i];
    const h = a + l3;
    const ihl = ipIhl(ctx.u8, h);
    const fo = ipFragOff(dv, h);
    const offset = (fo & IP_OFFSET) << 3;
    let end = offset + (b.len[i] - l3) - ihl;
    const frameSize = ctx.pool.umem.frameSize;
    const saddr = ipSaddr(dv, h);
    const daddr = ipDaddr(dv, h);
    const id = dv.getUint16(h + IPV4_ID);
    const proto = ipProto(ctx.u8, h);
    let q = this.find(saddr, daddr, id, proto);
    // Room for one more frame, and a queue: the oldest other queues make way.
    while (this.mem + frameSize > ctx.sysctl.ipfrag_high_thresh || this.fTop === 0) {
      if (!this.evictOldest(q)) return this.refuse(b, i);
    }
    if (q < 0) {
      q = this.create(saddr, daddr, id, proto, now);
      if (q < 0 && this.evictOldest(-1)) q = this.create(saddr, daddr, id, proto, now);
      if (q < 0) return this.refuse(b, i);
    }
    // ip_frag_queue: where does this fragment end, and does that agree with what we know?
    if ((fo & IP_MF) === 0) {
      if (end < this.qLen[q] || ((this.qFlags[q] & LAST_IN) !== 0 && end !== this.qLen[q])) return this.discard(q, b, i);
      this.qFlags[q] |= LAST_IN;
      this.qLen[q] = end;
    } else {
      end &= ~7;
      if (end > this.qLen[q]) {
        if ((this.qFlags[q] & LAST_IN) !== 0) return this.discard(q, b, i);
        this.qLen[q] = end;
      }
    }
    if (end <= offset) return this.discard(q, b, i);
    // Oversize: the datagram could never fit one frame (Linux's limit is 65535).
    if (l3 + ihl + this.qLen[q] > ctx.frameRoom || IPV4_HLEN + this.qLen[q] > 65535) return this.discard(q, b, i);
    // inet_frag_queue_insert: find the runs of adjacent fragments; contained = dup, else overlap.
    let prev = -1;
    let runStart = -1;
    let runEnd = -1;
    for (let f = this.qHead[q]; f >= 0; f = this.fNext[f]) {
      const fo2 = this.fOff[f];
      if (fo2 === runEnd) runEnd = this.fEnd[f];
      else {
        const c = conflict(runStart, runEnd, offset, end);
        if (c !== 0) return c === 1 ? this.dup(b, i) : this.overlap(q, b, i);
        runStart = fo2;
        runEnd = this.fEnd[f];
      }
      if (fo2 < offset) prev = f;
    }
    const c = conflict(runStart, runEnd, offset, end);
    if (c !== 0) return c === 1 ? this.dup(b, i) : this.overlap(q, b, i);
    const f = this.fFree[--this.fTop];
    this.fAddr[f] = a;
    this.fL3[f] = l3;
    this.fIhl[f] = ihl;
    this.fOff[f] = offset;
    this.fEnd[f] = end;
    this.fIif[f] = b.iif[i];
    if (prev < 0) {
      this.fNext[f] = this.qHead[q];
      this.qHead[q] = f;
    } else {
      this.fNext[f] = this.fNext[prev];
      this.fNext[prev] = f;
    }
    if (offset === 0) this.qFlags[q] |= FIRST_IN;
    if ((fo & IP_DF) !== 0) this.qDf[q] = 1;
    this.qMeat[q] += end - offset;
    this.mem += frameSize;
    if (this.qFlags[q] === (FIRST_IN | LAST_IN) && this.qMeat[q] === this.qLen[q]) return this.reasm(q, b, i);
    return false;
  }

  /**
   * Kill queues past their time (ip_expire): ReasmFails + ReasmTimeout each, and ICMP time
   * exceeded (code 1) if the first fragment had arrived. `b` is the batch being dispatched when
   * called from defrag(); from a timer (no b) the errors are dispatched to ip-output here.
   */
  expire(now = this.ctx.now(), b: Batch | null = null): void {
    let next = Infinity;
    const m = this.ctx.mib.ip.v;
    const out = b ?? this.errBatch;
    if (b === null) out.n = 0;
    for (let q = 0; q < this.maxQueues; q++) {
      if (this.qUsed[q] === 0) continue;
      if (this.qExpires[q] <= now) {
        m[IP.ReasmFails]++;
        m[IP.ReasmTimeout]++;
        if ((this.qFlags[q] & FIRST_IN) !== 0) this.timeExceeded(q, out, b !== null);
        this.kill(q);
      } else if (this.qExpires[q] < next) next = this.qExpires[q];
    }
    this.nextExpiry = next;
    if (b === null && out.n > 0 && this.g !== null) this.g.dispatch(out, this.sOutput);
  }

  /** Detach the first fragment of q and turn it into ICMP time exceeded (fragment reassembly). */
  private timeExceeded(q: number, out: Batch, inDispatch: boolean): void {
    const g = this.g;
    const f = this.qHead[q];
    if (g === null || f < 0 || this.fOff[f] !== 0) return;
    const room = inDispatch ? Math.min(out.capacity, g.capacity) : out.capacity;
    if (out.n >= room) return; // no slot: kill() frees it with the rest
    this.qHead[q] = this.fNext[f];
    this.fFree[this.fTop++] = f;
    this.mem -= this.ctx.pool.umem.frameSize;
    const l3 = this.fL3[f];
    const x = out.push(this.fAddr[f], l3 + this.fIhl[f] + this.fEnd[f], this.fIif[f]);
    out.l3[x] = l3;
    out.l4[x] = l3 + this.fIhl[f];
    out.aux[x] = RTCF_LOCAL; // it was for us: the error comes from the address it was sent to
    if (this.icmp !== null && this.icmp.send(out, x, ICMP_TIME_EXCEEDED, ICMP_EXC_FRAGTIME, 0)) {
      if (inDispatch) g.enqueue(this.sOutput, x);
    } else {
      this.ctx.pool.free(out.addr[x]);
      out.n--; // x is the last slot: give it back
    }
  }

  /** Free every queue (shutdown). */
  clear(): void {
    for (let q = 0; q < this.maxQueues; q++) if (this.qUsed[q] !== 0) this.kill(q);
    this.nextExpiry = Infinity;
  }

  private find(saddr: number, daddr: number, id: number, proto: number): number {
    if (this.queues === 0) return -1;
    for (let q = 0; q < this.maxQueues; q++) {
      if (this.qUsed[q] !== 0 && this.qId[q] === id && this.qSaddr[q] === saddr && this.qDaddr[q] === daddr && this.qProto[q] === proto) return q;
    }
    return -1;
  }

  private create(saddr: number, daddr: number, id: number, proto: number, now: number): number {
    for (let q = 0; q < this.maxQueues; q++) {
      if (this.qUsed[q] !== 0) continue;
      this.qUsed[q] = 1;
      this.qSaddr[q] = saddr;
      this.qDaddr[q] = daddr;
      this.qId[q] = id;
      this.qProto[q] = proto;
      this.qFlags[q] = 0;
      this.qDf[q] = 0;
      this.qLen[q] = 0;
      this.qMeat[q] = 0;
      this.qHead[q] = -1;
      const exp = now + this.ctx.sysctl.ipfrag_time * 1000;
      this.qExpires[q] = exp;
      if (exp < this.nextExpiry) this.nextExpiry = exp;
      this.queues++;
      return q;
    }
    return -1;
  }

  /** Kill the queue created first, other than `keep` (ReasmFails). False if there is none. */
  private evictOldest(keep: number): boolean {
    let best = -1;
    let t = Infinity;
    for (let q = 0; q < this.maxQueues; q++) {
      if (this.qUsed[q] !== 0 && q !== keep && this.qExpires[q] < t) {
        t = this.qExpires[q];
        best = q;
      }
    }
    if (best < 0) return false;
    this.ctx.mib.ip.v[IP.ReasmFails]++;
    this.kill(best);
    return true;
  }

  /** Free a queue and every frame it holds. */
  private kill(q: number): void {
    const pool = this.ctx.pool;
    const frameSize = pool.umem.frameSize;
    for (let f = this.qHead[q]; f >= 0; ) {
      const nx = this.fNext[f];
      pool.free(this.fAddr[f]);
      this.fFree[this.fTop++] = f;
      this.mem -= frameSize;
      f = nx;
    }
    this.qHead[q] = -1;
    this.qUsed[q] = 0;
    this.queues--;
  }

  /** No memory or no queue slot: the fragment is refused (ReasmFails), queues untouched. */
  private refuse(b: Batch, i: number): boolean {
    this.ctx.mib.ip.v[IP.ReasmFails]++;
    this.g!.drop(b, i, this.rFails);
    return false;
  }

  /** discard_qp: the queue is corrupt; kill it and drop this fragment. */
  private discard(q: number, b: Batch, i: number): boolean {
    this.kill(q);
    return this.refuse(b, i);
  }

  private overlap(q: number, b: Batch, i: number): boolean {
    this.ctx.mib.ip.v[IP.ReasmOverlaps]++;
    return this.discard(q, b, i);
  }

  private dup(b: Batch, i: number): boolean {
    this.g!.drop(b, i, this.rDup);
    return false;
  }

  /** ip_frag_reasm: copy the first fragment's headers and every fragment's data into a new frame. */
  private reasm(q: number, b: Batch, i: number): boolean {
    const ctx = this.ctx;
    const u8 = ctx.u8;
    const dv = ctx.dv;
    const first = this.qHead[q];
    const l3 = this.fL3[first];
    const ihl = this.fIhl[first];
    const total = ihl + this.qLen[q];
    const na = ctx.pool.alloc();
    if (na < 0 || l3 + total > ctx.frameRoom) {
      // The current fragment is in the queue: kill() frees it with the rest.
      ctx.mib.ip.v[IP.ReasmFails]++;
      this.kill(q);
      return false;
    }
    const fa = this.fAddr[first];
    u8.copyWithin(na, fa, fa + l3 + ihl);
    const base = na + l3 + ihl;
    for (let f = first; f >= 0; f = this.fNext[f]) {
      const src = this.fAddr[f] + this.fL3[f] + this.fIhl[f];
      u8.copyWithin(base + this.fOff[f], src, src + (this.fEnd[f] - this.fOff[f]));
    }
    const h = na + l3;
    dv.setUint16(h + IPV4_TOT_LEN, total);
    dv.setUint16(h + IPV4_FRAG_OFF, this.qDf[q] !== 0 ? IP_DF : 0);
    ipSendCheck(dv, h);
    this.kill(q);
    b.addr[i] = na;
    b.len[i] = l3 + total;
    b.l3[i] = l3;
    b.l4[i] = l3 + ihl;
    ctx.mib.ip.v[IP.ReasmOKs]++;
    return true;
  }
}

/** 0 = no conflict with run [rs, re), 1 = [off, end) inside it (duplicate), 2 = partial overlap. */
function conflict(rs: number, re: number, off: number, end: number): number {
  if (rs < 0 || end <= rs || off >= re) return 0;
  return off >= rs && end <= re ? 1 : 2;
}
