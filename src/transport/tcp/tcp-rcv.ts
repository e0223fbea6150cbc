import * as batch from '../../core/batch.ts';
import type { Batch } from '../../core/batch.ts';
import type { Graph, Stage } from '../../core/graph.ts';
import * as ipCtx from '../../ipv4/ctx.ts';
import { sendReset } from '../../ipv4/nf-hooks.ts';
import * as ipv4 from '../../wire/ipv4.ts';
import * as tcp from '../../wire/tcp.ts';
import type { TcpCtx } from './ctx.ts';
import { tcpRcvState } from './input.ts';
import { listenRcv } from './listen.ts';
import * as mib from './mib.ts';
import { sendAck, synWnd, xmit } from './output.ts';
import * as seg from './seg.ts';
import { Seg } from './seg.ts';
import { seqAdd } from './seq.ts';
import * as tcb from './tcb.ts';

// Hot path: imported bindings as module-local consts (src/wire/README.md, "On the hot path").
const { PACKET_HOST } = batch;
const { RTCF_BROADCAST, RTCF_MULTICAST } = ipCtx;
const { IP_DF, IPPROTO_TCP, IPV4_HLEN, ipDaddr, ipIhl, ipSaddr, writeIpv4Header } = ipv4;
const { TCP_ACK, TCP_FIN, TCP_HLEN, TCP_RST, TCP_SYN, tcpAckSeq, tcpCsumOk, tcpDport, tcpFlags, tcpHdrLen, tcpHdrOk, tcpParseOptions, tcpSeq, tcpSetCsum, tcpSport, tcpWindow, tcpWriteSynOptions, writeTcpHdr } = tcp;
const { TCP } = mib;
const { SEG_FREE, SEG_HELD, SEG_RELOOKUP, SEG_RESET, SEG_SYNCOOKIE } = seg;
const { TCP_DELACK_MS } = tcb;
const NOT_UNICAST = RTCF_BROADCAST | RTCF_MULTICAST;

/**
 * `tcp-rcv` (tcp_v4_rcv): validate (header length, checksum: InErrs, InCsumErrors), find the
 * connection by its 4-tuple, else a listener, and run the state machine (input.ts, listen.ts);
 * a segment for no socket is answered with a RST built over it (tcp_v4_send_reset). Output the
 * segments cause — ACKs, data an ACK let out — is built at the end of the batch (flush), one
 * ACK per connection per batch where the kernel would delay it anyway.
 */
export class TcpRcv implements Stage {
  readonly name = 'tcp-rcv';
  private g!: Graph;
  private sOutput = 0;
  readonly seg: Seg;

  constructor(readonly ctx: TcpCtx) {
    this.seg = new Seg(ctx.opts);
  }

  init(g: Graph): void {
    this.g = g;
    this.sOutput = g.id('ip-output');
    this.ctx.drops = {
      InErrs: g.reason('tcp.InErrs'),
      InCsumErrors: g.reason('tcp.InCsumErrors'),
      notHost: g.reason('tcp.not_host'),
      flags: g.reason('tcp.flags'),
      paws: g.reason('tcp.rfc7323_paws'),
      oldData: g.reason('tcp.old_data'),
      overWindow: g.reason('tcp.overwindow'),
      reset: g.reason('tcp.reset'),
      invalidSyn: g.reason('tcp.invalid_syn'),
      ackUnsent: g.reason('tcp.ack_unsent_data'),
      tooOldAck: g.reason('tcp.too_old_ack'),
      ofoDrop: g.reason('tcp.ofo_drop'),
      listenOverflow: g.reason('tcp.listen_overflow'),
      noSocket: g.reason('tcp.no_socket'),
      closed: g.reason('tcp.close'),
      rcvqDrop: g.reason('tcp.rcvq_drop'),
      zeroWindow: g.reason('tcp.zerowindow'),
    };
  }

  run(b: Batch, v: Uint16Array, n: number): void {
    const ctx = this.ctx;
    const g = this.g;
    const u8 = ctx.u8;
    const dv = ctx.dv;
    const m = ctx.mib.tcp.v;
    const dr = ctx.drops;
    const s = this.seg;
    const o = s.opts;
    for (let j = 0; j < n; j++) {
      const i = v[j];
      if (b.pkttype[i] !== PACKET_HOST || (b.aux[i] & NOT_UNICAST) !== 0) {
        g.drop(b, i, dr.notHost);
        continue;
      }
      m[TCP.InSegs]++;
      const a = b.addr[i];
      const h = a + b.l3[i];
      const p = h + ipIhl(u8, h);
      const segLen = a + b.len[i] - p;
      if (!tcpHdrOk(u8, p, segLen)) {
        m[TCP.InErrs]++;
        g.drop(b, i, dr.InErrs);
        continue;
      }
      const saddr = ipSaddr(dv, h);
      const daddr = ipDaddr(dv, h);
      if (!tcpCsumOk(dv, p, segLen, saddr, daddr)) {
        m[TCP.InCsumErrors]++;
        m[TCP.InErrs]++;
        g.drop(b, i, dr.InCsumErrors);
        continue;
      }
      const hlen = tcpHdrLen(u8, p);
      const flags = tcpFlags(u8, p);
      s.frame = a;
      s.iph = h;
      s.th = p;
      s.saddr = saddr;
      s.daddr = daddr;
      s.sport = tcpSport(dv, p);
      s.dport = tcpDport(dv, p);
      s.seq = tcpSeq(dv, p);
      s.ack = tcpAckSeq(dv, p);
      s.flags = flags;
      s.wnd = tcpWindow(dv, p);
      s.hlen = hlen;
      s.data = p + hlen;
      s.len = segLen - hlen;
      s.end = seqAdd(s.seq, s.len + ((flags & TCP_SYN) !== 0 ? 1 : 0) + ((flags & TCP_FIN) !== 0 ? 1 : 0));
      tcpParseOptions(u8, dv, p, hlen, o); // resets o, also when there are no options
      let r = this.demux(s);
      if (r === SEG_RELOOKUP) r = this.demux(s);
      if (r === SEG_FREE) ctx.pool.free(a);
      else if (r === SEG_HELD) continue;
      else if (r === SEG_RESET) {
        if (sendReset(ctx.ipv4.ctx, b, i)) {
          m[TCP.OutRsts]++;
          m[TCP.OutSegs]++;
          g.enqueue(this.sOutput, i);
        } else g.drop(b, i, dr.noSocket);
      } else if (r === SEG_SYNCOOKIE) {
        this.cookieSynAck(b, i, s);
        m[TCP.OutSegs]++;
        g.enqueue(this.sOutput, i);
      } else g.drop(b, i, r);
    }
  }

  /** The SYN-ACK of a SYN cookie, written over the SYN (no state, no new frame): MSS option only. */
  private cookieSynAck(b: Batch, i: number, s: Seg): void {
    const ctx = this.ctx;
    const dv = ctx.dv;
    const h = b.addr[i] + b.l3[i];
    const p = h + IPV4_HLEN;
    const mss = ctx.cookieMss;
    const hlen = TCP_HLEN + tcpWriteSynOptions(dv, p + TCP_HLEN, mss, -1, false, false, 0, 0);
    writeTcpHdr(dv, p, s.dport, s.sport, ctx.cookieIsn, seqAdd(s.seq, 1), hlen, TCP_SYN | TCP_ACK, synWnd(ctx.initialRcvbuf(), mss));
    tcpSetCsum(dv, p, hlen, hlen, s.daddr, s.saddr, 0);
    const ip = ctx.ipv4.ctx;
    writeIpv4Header(dv, h, 0, IPV4_HLEN + hlen, ip.nextIdent(), IP_DF, ip.sysctl.ip_default_ttl, IPPROTO_TCP, s.daddr, s.saddr);
    b.len[i] = b.l3[i] + IPV4_HLEN + hlen;
    b.l4[i] = b.l3[i] + IPV4_HLEN;
    b.aux[i] = 0;
  }

  /** __inet_lookup_skb: the connection, else a listener, else no socket (a RST answers). */
  private demux(s: Seg): number {
    const ctx = this.ctx;
    const table = ctx.table;
    const id = table.lookup(s.daddr, s.dport, s.saddr, s.sport);
    if (id >= 0) {
      const t = table.conns[id]!;
      t.segsIn++;
      return tcpRcvState(ctx, t, s);
    }
    const l = table.listener(s.daddr, s.dport);
    if (l !== null) return listenRcv(ctx, l, s);
    return (s.flags & TCP_RST) !== 0 ? ctx.drops.noSocket : SEG_RESET;
  }

  /**
   * After the batch: each connection that received something sends what its window now allows
   * (an ACK rides on it), else an ACK when one is due (every second full segment, out-of-order
   * data, a FIN, quickack), else arms the delayed ACK. Then the ring goes out.
   */
  flush(): void {
    const ctx = this.ctx;
    const n = ctx.flushN;
    if (n === 0) return;
    const list = ctx.flush;
    ctx.flushN = 0;
    const w = ctx.wheel;
    for (let k = 0; k < n; k++) {
      const t = list[k];
      t.onFlush = false;
      if (t.id < 0) continue;
      xmit(ctx, t);
      if (t.ackNow || t.rcvSinceAck >= 2 * t.rcv_mss) sendAck(ctx, t);
      else if (t.rcvSinceAck > 0 && !w.isArmed(t.tDack)) w.arm(t.tDack, ctx.now() + TCP_DELACK_MS);
    }
    ctx.out.drain();
  }
}
