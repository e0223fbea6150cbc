import { TCP, TCPEXT } from './mib.ts';
import type { TcpCtx } from './ctx.ts';
import type { Listener } from './table.ts';
import {
  RTX_NONE,
  TCP_CLOSE,
  TCP_CLOSE_WAIT,
  TCP_ESTABLISHED,
  TCP_SYN_RECV,
  TCP_SYN_SENT,
  TCP_TIME_WAIT,
  WAKE_CLOSED,
  WAKE_ERROR,
  Tcb,
} from './tcb.ts';

/**
 * Connection life cycle (tcp_set_state, tcp_done, tcp_time_wait, tcp_reset): state changes with
 * the MIB gauges, making and freeing a connection's table slot and timers, the frames it holds.
 */

/**
 * A new connection laddr:lport <-> raddr:rport in `state` (not hashed yet), over the route the
 * caller's routeOutput left in ctx.out.route, with the default congestion control and buffers.
 */
export function newTcb(ctx: TcpCtx, laddr: number, lport: number, raddr: number, rport: number, state: number): Tcb {
  const t = new Tcb(ctx.congOps());
  t.cong.init(t);
  const r = ctx.out.route;
  t.oif = r.oif;
  t.mtu = r.mtu;
  t.laddr = laddr;
  t.lport = lport;
  t.raddr = raddr;
  t.rport = rport;
  t.state = state;
  t.rcvbuf = ctx.initialRcvbuf();
  t.sndbuf = ctx.sysctl.tcp_wmem[1];
  t.reordering = ctx.sysctl.tcp_reordering;
  t.tsOffset = (Math.random() * 0x100000000) >>> 0;
  t.startedAt = ctx.now();
  return t;
}

/** Hash t in the table and make its timers; false when the table is full. */
export function hashTcb(ctx: TcpCtx, t: Tcb): boolean {
  if (!ctx.table.insert(t)) return false;
  const w = ctx.wheel;
  t.tRtx = w.create(ctx.kRtx, t.id);
  t.tDack = w.create(ctx.kDack, t.id);
  t.tKeep = w.create(ctx.kKeep, t.id);
  return true;
}

/** tcp_set_state: CurrEstab counts ESTABLISHED; EstabResets counts ESTABLISHED/CLOSE-WAIT -> CLOSED. */
export function setState(ctx: TcpCtx, t: Tcb, st: number): void {
  const old = t.state;
  if (old === st) return;
  const m = ctx.mib.tcp.v;
  if (st === TCP_ESTABLISHED) m[TCP.CurrEstab]++;
  else {
    if (st === TCP_CLOSE && (old === TCP_ESTABLISHED || old === TCP_CLOSE_WAIT)) m[TCP.EstabResets]++;
    if (old === TCP_ESTABLISHED) m[TCP.CurrEstab]--;
  }
  if (t.id >= 0) ctx.table.stateChanged(old, st);
  t.state = st;
}

/** Return the out-of-order frames to the pool (and the sockets' frame budget). */
export function freeOfo(ctx: TcpCtx, t: Tcb): void {
  const q = t.ofo;
  if (q === null) return;
  for (let k = 0; k < q.n; k++) ctx.pool.free(q.addr[k]);
  ctx.mem.uncharge(q.n);
  q.n = 0;
  q.bytes = 0;
  t.ofo = null;
}

/** Return the frames of the zero-copy receive queue to the pool, lent ones too (the reader is gone or the connection is). */
export function freeFrames(ctx: TcpCtx, t: Tcb): void {
  const q = t.frames;
  if (q === null) return;
  for (let p = q.head; p < q.tail; p++) ctx.pool.free(q.frame[p & q.mask]);
  ctx.mem.uncharge(q.tail - q.head);
  t.frames = null;
}

/**
 * tcp_done: CLOSED. Timers and held frames go, the slot is freed; the application hears of it
 * (with `error`, an errno name, when the connection failed).
 */
export function tcpDone(ctx: TcpCtx, t: Tcb, error = ''): void {
  if (t.state === TCP_SYN_RECV && t.parent !== null) (t.parent as Listener).synQueue--;
  if (t.state === TCP_SYN_SENT || t.state === TCP_SYN_RECV) ctx.mib.tcp.v[TCP.AttemptFails]++;
  setState(ctx, t, TCP_CLOSE);
  const w = ctx.wheel;
  if (t.tRtx >= 0) {
    w.destroy(t.tRtx);
    w.destroy(t.tDack);
    w.destroy(t.tKeep);
    t.tRtx = t.tDack = t.tKeep = -1;
  }
  t.rtxMode = RTX_NONE;
  freeOfo(ctx, t);
  freeFrames(ctx, t);
  ctx.table.remove(t);
  if (error !== '' && t.error === '') t.error = error;
  if (t.user !== null) ctx.wake(t, error !== '' ? WAKE_CLOSED | WAKE_ERROR : WAKE_CLOSED);
}

/** tcp_time_wait: TIME-WAIT for tcp_tw_len s (or CLOSED at once beyond tcp_max_tw_buckets). */
export function enterTimeWait(ctx: TcpCtx, t: Tcb): void {
  if (ctx.table.perState[TCP_TIME_WAIT] >= ctx.sysctl.tcp_max_tw_buckets) {
    ctx.mib.ext.v[TCPEXT.TCPTimeWaitOverflow]++;
    tcpDone(ctx, t);
    return;
  }
  setState(ctx, t, TCP_TIME_WAIT);
  const w = ctx.wheel;
  w.cancel(t.tRtx);
  w.cancel(t.tDack);
  t.rtxMode = RTX_NONE;
  freeOfo(ctx, t);
  t.sq.clear();
  w.arm(t.tKeep, ctx.now() + ctx.sysctl.tcp_tw_len * 1000);
  if (t.user !== null) ctx.wake(t, WAKE_CLOSED);
}

/** tcp_reset: the peer reset the connection. */
export function tcpReset(ctx: TcpCtx, t: Tcb): void {
  const st = t.state;
  if (st === TCP_SYN_RECV && t.parent !== null) ctx.mib.ext.v[TCPEXT.EmbryonicRsts]++;
  tcpDone(ctx, t, st === TCP_SYN_SENT ? 'ECONNREFUSED' : st === TCP_CLOSE_WAIT ? 'EPIPE' : 'ECONNRESET');
}
