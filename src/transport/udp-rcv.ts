import type { Batch } from '../core/batch.ts';
import type { Graph, Stage } from '../core/graph.ts';
import * as ctxMod from '../ipv4/ctx.ts';
import { ICMP_DEST_UNREACH, ICMP_PORT_UNREACH } from '../wire/icmp.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as udp from '../wire/udp.ts';
import * as mib from './udp-mib.ts';
import type { UdpState } from './udp-state.ts';
// Hot path: imported bindings as module-local consts (src/wire/README.md, "On the hot path").
const { RTCF_BROADCAST, RTCF_MULTICAST } = ctxMod;
const { ipDaddr, ipSaddr } = ipv4;
const { UDP_HLEN, udpCsumOk, udpDport, udpLen, udpLenOk, udpSport } = udp;
const { UDP } = mib;

/**
 * `udp-rcv` (__udp4_lib_rcv, udp_queue_rcv_skb, __udp_enqueue_schedule_skb): the UDP length
 * (InErrors), the checksum — zero means none — (InCsumErrors + InErrors), then the socket lookup.
 * No socket: NoPorts and ICMP port unreachable (rate-limited by icmp_send; the frame becomes the
 * error), or a drop when ICMP may not answer. A socket: the datagram is queued in its frame, no
 * copy, unless the socket's buffer is over SO_RCVBUF (RcvbufErrors + InErrors + the socket's
 * drops) or sockets hold their share of the pool (MemErrors + InErrors + drops).
 *
 * Broadcasts go to every matching socket (__udp4_lib_mcast_deliver): the first gets the frame,
 * each other one a copy in a new frame (a frame can be in one queue only); no frame for a copy
 * counts RcvbufErrors + InErrors, as a failed skb_clone does. Nobody listening: IgnoredMulti.
 */
export class UdpRcv implements Stage {
  readonly name = 'udp-rcv';
  private g!: Graph;
  private sOutput = 0;
  private rErrors = 0;
  private rCsum = 0;
  private rNoPorts = 0;
  private rRcvbuf = 0;
  private rMem = 0;
  private rIgnored = 0;

  constructor(private readonly st: UdpState) {}

  init(g: Graph): void {
    this.g = g;
    this.sOutput = g.id('ip-output');
    this.rErrors = g.reason('udp.InErrors');
    this.rCsum = g.reason('udp.InCsumErrors');
    this.rNoPorts = g.reason('udp.NoPorts');
    this.rRcvbuf = g.reason('udp.RcvbufErrors');
    this.rMem = g.reason('udp.MemErrors');
    this.rIgnored = g.reason('udp.IgnoredMulti');
  }

  run(b: Batch, v: Uint16Array, n: number): void {
    const st = this.st;
    const g = this.g;
    const dv = st.dv;
    const m = st.counters.v;
    const table = st.table;
    for (let j = 0; j < n; j++) {
      const i = v[j];
      const a = b.addr[i];
      const l4 = b.l4[i];
      const u = a + l4;
      if (!udpLenOk(dv, u, b.len[i] - l4)) {
        m[UDP.InErrors]++;
        g.drop(b, i, this.rErrors);
        continue;
      }
      const ulen = udpLen(dv, u);
      // pskb_trim_rcsum: bytes after the UDP length are not the datagram's.
      b.len[i] = l4 + ulen;
      const h = a + b.l3[i];
      const saddr = ipSaddr(dv, h);
      const daddr = ipDaddr(dv, h);
      if (!udpCsumOk(dv, u, saddr, daddr)) {
        m[UDP.InCsumErrors]++;
        m[UDP.InErrors]++;
        g.drop(b, i, this.rCsum);
        continue;
      }
      const sport = udpSport(dv, u);
      const dport = udpDport(dv, u);
      if ((b.aux[i] & (RTCF_BROADCAST | RTCF_MULTICAST)) !== 0) {
        this.broadcast(b, i, saddr, sport, daddr, dport, u + UDP_HLEN, ulen - UDP_HLEN);
        continue;
      }
      const s = table.lookup(saddr, sport, daddr, dport, b.iif[i]);
      if (s < 0) {
        m[UDP.NoPorts]++;
        if (st.ipv4.icmp_send(b, i, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0)) g.enqueue(this.sOutput, i);
        else g.drop(b, i, this.rNoPorts);
        continue;
      }
      const r = this.enqueue(s, a, u + UDP_HLEN, ulen - UDP_HLEN, saddr, sport);
      if (r !== 0) g.drop(b, i, r);
    }
  }

  /** After the dispatch: tell the sockets that got data (batch readers now, the others on one microtask). */
  flush(): void {
    if (this.st.nReady > 0) this.st.flushReady();
  }

  /**
   * Queue one datagram (frame `frame`, payload at data) on socket s: 0 when queued (the socket
   * owns the frame now), else the drop reason (counted; the caller frees the frame).
   */
  private enqueue(s: number, frame: number, data: number, len: number, saddr: number, sport: number): number {
    const st = this.st;
    const m = st.counters.v;
    const sk = st.socks[s]!;
    const q = sk.q;
    // __udp_enqueue_schedule_skb: over SO_RCVBUF before this one (so one datagram may cross it),
    // or a ring full (cannot happen while it is sized from SO_RCVBUF; kept as a bound).
    if (q.bytes > sk.rcvbuf || q.tail - q.head > q.mask) {
      m[UDP.RcvbufErrors]++;
      m[UDP.InErrors]++;
      sk.drops++;
      return this.rRcvbuf;
    }
    if (!st.mem.charge()) {
      m[UDP.MemErrors]++;
      m[UDP.InErrors]++;
      sk.drops++;
      return this.rMem;
    }
    const x = q.tail & q.mask;
    q.frame[x] = frame;
    q.data[x] = data;
    q.len[x] = len;
    q.saddr[x] = saddr;
    q.sport[x] = sport;
    q.tail++;
    q.bytes += st.truesize;
    st.markReady(sk);
    return 0;
  }

  /** __udp4_lib_mcast_deliver: every socket that matches (compute_score >= 0) gets the datagram. */
  private broadcast(b: Batch, i: number, saddr: number, sport: number, daddr: number, dport: number, data: number, len: number): void {
    const st = this.st;
    const t = st.table;
    const dif = b.iif[i];
    let first = -1;
    for (let s = t.head[dport]; s >= 0; s = t.next[s]) {
      if (t.score(s, saddr, sport, daddr, dif) < 0) continue;
      if (first < 0) {
        first = s;
        continue;
      }
      this.copyTo(s, data, len, saddr, sport);
    }
    if (first < 0) {
      st.counters.v[UDP.IgnoredMulti]++;
      this.g.drop(b, i, this.rIgnored);
      return;
    }
    const r = this.enqueue(first, b.addr[i], data, len, saddr, sport);
    if (r !== 0) this.g.drop(b, i, r);
  }

  /** A copy of the payload for one more socket, in a frame of its own. */
  private copyTo(s: number, data: number, len: number, saddr: number, sport: number): void {
    const st = this.st;
    const sk = st.socks[s]!;
    if (sk.q.bytes > sk.rcvbuf) {
      this.enqueueFailed(sk);
      return;
    }
    const na = st.pool.alloc();
    if (na < 0) {
      this.enqueueFailed(sk);
      return;
    }
    st.u8.copyWithin(na, data, data + len);
    const r = this.enqueue(s, na, na, len, saddr, sport);
    if (r !== 0) {
      // Counted by enqueue; the copy goes back.
      this.g.drops.v[r]++;
      st.pool.free(na);
    }
  }

  private enqueueFailed(sk: { drops: number }): void {
    const m = this.st.counters.v;
    m[UDP.RcvbufErrors]++;
    m[UDP.InErrors]++;
    sk.drops++;
    this.g.drops.v[this.rRcvbuf]++;
  }
}
