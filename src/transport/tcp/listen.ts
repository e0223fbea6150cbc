import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../wire/tcp.ts';
import { hashTcb, newTcb } from './conn.ts';
import type { TcpCtx } from './ctx.ts';
import { negotiate, ourWscale } from './input.ts';
import { TCPEXT } from './mib.ts';
import { armRto, sendSyn } from './output.ts';
import { SEG_FREE, SEG_RESET, type Seg } from './seg.ts';
import { seqAdd } from './seq.ts';
import type { Listener } from './table.ts';
import { TCP_SYN_RECV } from './tcb.ts';

/**
 * A segment for a listening socket (tcp_v4_conn_request / the LISTEN case of
 * tcp_rcv_state_process): a SYN makes a connection in SYN-RECEIVED (counted in the listener's
 * SYN queue) and is answered with a SYN-ACK; a stray ACK is answered with a RST; a RST is dropped.
 * A full accept queue (backlog) or SYN queue drops the SYN (ListenOverflows, ListenDrops).
 */
export function listenRcv(ctx: TcpCtx, l: Listener, s: Seg): number {
  const f = s.flags;
  const dr = ctx.drops;
  if ((f & TCP_RST) !== 0) return dr.reset;
  if ((f & TCP_ACK) !== 0) return SEG_RESET;
  if ((f & TCP_SYN) === 0 || (f & TCP_FIN) !== 0) return dr.flags;
  const sys = ctx.sysctl;
  const ext = ctx.mib.ext.v;
  if (l.acceptQueue >= l.backlog) {
    ext[TCPEXT.ListenOverflows]++;
    ext[TCPEXT.ListenDrops]++;
    return dr.listenOverflow;
  }
  const synMax = l.backlog < sys.tcp_max_syn_backlog ? l.backlog : sys.tcp_max_syn_backlog;
  if (l.synQueue >= synMax || ctx.table.full) {
    ext[TCPEXT.ListenDrops]++;
    return dr.listenOverflow;
  }
  if (ctx.out.routeOutput(s.saddr, s.daddr) !== null) {
    ext[TCPEXT.ListenDrops]++;
    return dr.listenOverflow;
  }
  const t = newTcb(ctx);
  const r = ctx.out.route;
  t.oif = r.oif;
  t.mtu = r.mtu;
  t.laddr = s.daddr;
  t.lport = s.dport;
  t.raddr = s.saddr;
  t.rport = s.sport;
  t.state = TCP_SYN_RECV;
  t.wscaleOk = sys.tcp_window_scaling !== 0;
  t.rcv_wscale = t.wscaleOk ? ourWscale(ctx) : 0;
  t.sackOk = sys.tcp_sack !== 0;
  t.tsOk = sys.tcp_timestamps !== 0;
  t.irs = s.seq;
  t.rcv_nxt = seqAdd(s.seq, 1);
  t.rcv_wup = t.rcv_nxt;
  negotiate(ctx, t, s.opts);
  t.snd_wnd = s.wnd;
  t.max_window = s.wnd;
  t.snd_wl1 = s.seq;
  t.iss = ctx.isn(t.laddr, t.lport, t.raddr, t.rport);
  t.snd_una = t.iss;
  t.snd_nxt = seqAdd(t.iss, 1);
  t.sq.base = t.snd_nxt;
  if (!hashTcb(ctx, t)) {
    ext[TCPEXT.ListenDrops]++;
    return dr.listenOverflow;
  }
  t.parent = l;
  l.synQueue++;
  sendSyn(ctx, t, false);
  t.rttStamp = ctx.now();
  armRto(ctx, t);
  return SEG_FREE;
}
