import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../wire/tcp.ts';
import { hashTcb, newTcb, setState } from './conn.ts';
import type { TcpCtx } from './ctx.ts';
import { TCP_MSS_DEFAULT, armKeepalive, offerOptions, synReceived, syncMss, tcpRcvState } from './input.ts';
import { TCP, TCPEXT } from './mib.ts';
import { armRto, sendSyn, synWindow } from './output.ts';
import { SEG_FREE, SEG_RESET, SEG_SYNCOOKIE, type Seg } from './seg.ts';
import { MSS_TABLE, SynCookies } from './syncookies.ts';
import { seqAdd } from './seq.ts';
import type { Listener } from './table.ts';
import { TCP_ESTABLISHED, TCP_MAX_QUICKACKS, TCP_SYN_RECV, WAKE_ACCEPT } from './tcb.ts';

/**
 * A segment for a listening socket (tcp_v4_conn_request / the LISTEN case of
 * tcp_rcv_state_process): a SYN makes a connection in SYN-RECEIVED (counted in the listener's
 * SYN queue) and is answered with a SYN-ACK; a stray ACK is answered with a RST; a RST is dropped.
 * A full accept queue (backlog) drops the SYN (ListenOverflows, ListenDrops); a full SYN queue
 * answers with a SYN cookie (tcp_syncookies = 1; 2: always) or drops it (0).
 */
export function listenRcv(ctx: TcpCtx, l: Listener, s: Seg): number {
  const f = s.flags;
  const dr = ctx.drops;
  if ((f & TCP_RST) !== 0) return dr.reset;
  const sys = ctx.sysctl;
  const ext = ctx.mib.ext.v;
  if ((f & TCP_ACK) !== 0) {
    if ((f & TCP_SYN) === 0 && (sys.tcp_syncookies === 2 || (sys.tcp_syncookies === 1 && ctx.now() - l.lastOverflow < 120_000))) return cookieAck(ctx, l, s);
    return SEG_RESET;
  }
  if ((f & TCP_SYN) === 0 || (f & TCP_FIN) !== 0) return dr.flags;
  if (l.acceptQueue >= l.backlog) {
    ext[TCPEXT.ListenOverflows]++;
    ext[TCPEXT.ListenDrops]++;
    return dr.listenOverflow;
  }
  if (ctx.out.routeOutput(s.saddr, s.daddr) !== null) {
    ext[TCPEXT.ListenDrops]++;
    return dr.listenOverflow;
  }
  const synMax = l.backlog < sys.tcp_max_syn_backlog ? l.backlog : sys.tcp_max_syn_backlog;
  if (sys.tcp_syncookies === 2 || ((l.synQueue >= synMax || ctx.table.full) && sys.tcp_syncookies === 1)) {
    // No state: the SYN-ACK's ISN remembers the connection (tcp-rcv builds it over the SYN).
    l.lastOverflow = ctx.now();
    const peer = s.opts.mss > 0 ? s.opts.mss : TCP_MSS_DEFAULT;
    const mtuMss = ctx.out.route.mtu - 40;
    ctx.cookieIsn = ctx.cookies.make(s.saddr, s.daddr, s.sport, s.dport, s.seq, SynCookies.index(peer < mtuMss ? peer : mtuMss));
    ctx.cookieMss = mtuMss;
    ext[TCPEXT.SyncookiesSent]++;
    return SEG_SYNCOOKIE;
  }
  if (l.synQueue >= synMax || ctx.table.full) {
    ext[TCPEXT.ListenDrops]++;
    return dr.listenOverflow;
  }
  const t = newTcb(ctx, s.daddr, s.dport, s.saddr, s.sport, TCP_SYN_RECV);
  t.zc = l.zc;
  offerOptions(ctx, t);
  synReceived(ctx, t, s);
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

/**
 * cookie_v4_check: an ACK for a listener with no connection behind it. If ack - 1 is our cookie
 * for this 4-tuple, the connection is made now, ESTABLISHED (no window scaling, SACK or
 * timestamps: the cookie SYN-ACK offered none), and the segment is processed on it (it may carry
 * data). Otherwise SyncookiesFailed and a RST.
 */
function cookieAck(ctx: TcpCtx, l: Listener, s: Seg): number {
  const ext = ctx.mib.ext.v;
  const iss = (s.ack - 1) >>> 0;
  const irs = (s.seq - 1) >>> 0;
  const ind = ctx.cookies.check(s.saddr, s.daddr, s.sport, s.dport, irs, iss);
  if (ind < 0) {
    ext[TCPEXT.SyncookiesFailed]++;
    return SEG_RESET;
  }
  ext[TCPEXT.SyncookiesRecv]++;
  if (l.acceptQueue >= l.backlog || ctx.table.full || ctx.out.routeOutput(s.saddr, s.daddr) !== null) {
    ext[TCPEXT.ListenOverflows]++;
    ext[TCPEXT.ListenDrops]++;
    return ctx.drops.listenOverflow;
  }
  const t = newTcb(ctx, s.daddr, s.dport, s.saddr, s.sport, TCP_SYN_RECV);
  t.zc = l.zc;
  t.irs = irs;
  t.rcv_nxt = s.seq;
  t.rcv_wup = s.seq;
  t.iss = iss;
  t.snd_una = s.ack;
  t.snd_nxt = s.ack;
  t.sq.base = s.ack;
  t.peerMss = MSS_TABLE[ind];
  syncMss(t);
  synWindow(t); // the window the cookie SYN-ACK offered
  t.snd_wnd = s.wnd;
  t.max_window = s.wnd;
  t.snd_wl1 = s.seq;
  t.snd_wl2 = s.ack;
  if (!hashTcb(ctx, t)) return ctx.drops.listenOverflow;
  setState(ctx, t, TCP_ESTABLISHED);
  ctx.mib.tcp.v[TCP.PassiveOpens]++;
  t.quick = TCP_MAX_QUICKACKS;
  armKeepalive(ctx, t);
  t.parent = l;
  l.acceptQueue++;
  ctx.wake(t, WAKE_ACCEPT);
  return tcpRcvState(ctx, t, s);
}
