import { freeFrames, hashTcb, newTcb, setState, tcpDone } from './conn.ts';
import type { TcpCtx } from './ctx.ts';
import { armKeepalive, offerOptions } from './input.ts';
import { TCP, TCPEXT } from './mib.ts';
import { armRto, rcvHeld, sendAck, sendActiveReset, sendSyn, xmit } from './output.ts';
import { rcvSpaceAdjust } from './rcv-space.ts';
import { seqAdd, seqDiff } from './seq.ts';
import { Listener } from './table.ts';
import {
  TCP_CLOSE,
  TCP_CLOSE_WAIT,
  TCP_ESTABLISHED,
  TCP_FIN_WAIT1,
  TCP_FIN_WAIT2,
  TCP_LAST_ACK,
  TCP_SYN_RECV,
  TCP_SYN_SENT,
  TCP_TIME_WAIT,
  type Tcb,
} from './tcb.ts';

/**
 * What the application asks of TCP (tcp.c's tcp_v4_connect, inet_listen, tcp_sendmsg,
 * tcp_shutdown, tcp_close, tcp_cleanup_rbuf), independent of the stream API on top. Every entry
 * reads the clock afresh: the application may call after a long idle, when the poll loop's clock
 * is old. Returns errno names where the kernel returns errors.
 */

export interface ConnectOptions {
  laddr?: number;
  lport?: number;
  noDelay?: boolean;
  keepalive?: boolean;
  keepIdleMs?: number;
}

/** tcp_v4_connect: route, source address, local port, ISN; the SYN goes out. A Tcb or an errno name. */
export function tcpConnect(ctx: TcpCtx, raddr: number, rport: number, o: ConnectOptions = {}): Tcb | string {
  ctx.refresh();
  raddr >>>= 0;
  if (rport < 1 || rport > 65535) return 'EINVAL';
  const err = ctx.out.routeOutput(raddr, o.laddr ?? 0);
  if (err !== null) return err;
  const r = ctx.out.route;
  const laddr = r.saddr;
  if (r.broadcast) return 'ENETUNREACH';
  const table = ctx.table;
  if (table.full) return 'EAGAIN';
  let lport = o.lport ?? 0;
  if (lport === 0) {
    const [lo, hi] = ctx.tsys.ip_local_port_range;
    lport = table.connectPort(laddr, raddr, rport, lo, hi);
    if (lport < 0) return 'EADDRNOTAVAIL';
  } else if (table.lookup(laddr, lport, raddr, rport) >= 0 || table.portInUse(laddr, lport)) return 'EADDRINUSE';
  const t = newTcb(ctx, laddr, lport, raddr, rport, TCP_SYN_SENT);
  offerOptions(ctx, t);
  t.noDelay = o.noDelay ?? false;
  t.keepalive = o.keepalive ?? false;
  t.keepIdleMs = o.keepIdleMs ?? 0;
  t.iss = ctx.isn(laddr, lport, raddr, rport);
  t.snd_una = t.iss;
  t.snd_nxt = seqAdd(t.iss, 1);
  t.sq.base = t.snd_nxt;
  if (!hashTcb(ctx, t)) return 'EAGAIN';
  ctx.mib.tcp.v[TCP.ActiveOpens]++;
  sendSyn(ctx, t, false);
  t.rttStamp = ctx.now();
  armRto(ctx, t);
  return t;
}

/** inet_bind + inet_listen: a listener on addr:port (0 = an ephemeral port). */
export function tcpListen(ctx: TcpCtx, addr: number, port: number, backlog: number): Listener | string {
  addr >>>= 0;
  const table = ctx.table;
  if (addr !== 0 && !ctx.ipv4.ctx.isLocal(addr)) return 'EADDRNOTAVAIL';
  if (port === 0) {
    const [lo, hi] = ctx.tsys.ip_local_port_range;
    port = table.freeListenPort(lo, hi);
    if (port < 0) return 'EADDRINUSE';
  } else if (table.portInUse(addr, port)) return 'EADDRINUSE';
  // somaxconn (4096) bounds the backlog, as the kernel does.
  const l = new Listener(addr, port, Math.max(1, Math.min(backlog, 4096)));
  table.addListener(l);
  return l;
}

/** inet_csk_listen_stop: connections not yet accepted are reset, half-open ones forgotten. */
export function tcpUnlisten(ctx: TcpCtx, l: Listener): void {
  ctx.table.removeListener(l);
  for (const t of [...ctx.table.all()]) {
    if (t.parent !== l || t.user !== null) continue;
    if (t.state === TCP_SYN_RECV) tcpDone(ctx, t);
    else {
      sendActiveReset(ctx, t);
      tcpDone(ctx, t);
    }
  }
}

/** tcp_sendmsg: queue the application's bytes (kept, not copied) and send what the windows allow. */
export function tcpSend(ctx: TcpCtx, t: Tcb, buf: Uint8Array): void {
  ctx.refresh();
  t.sq.push(buf);
  xmit(ctx, t);
}

/**
 * tcp_sendmsg with an iovec (a stream's writev: a corked socket's writes, node:http's head and
 * body): every piece is queued before anything is sent, so they share segments. Sent piece by
 * piece, the first went alone and Nagle held the rest until the peer's ACK — a delayed one, 40 ms
 * per keep-alive response.
 */
export function tcpSendv(ctx: TcpCtx, t: Tcb, chunks: ReadonlyArray<{ chunk: Uint8Array }>): void {
  ctx.refresh();
  for (let k = 0; k < chunks.length; k++) t.sq.push(chunks[k].chunk);
  xmit(ctx, t);
}

/** tcp_shutdown(SHUT_WR): a FIN after the queued data. */
export function tcpShutdown(ctx: TcpCtx, t: Tcb): void {
  if (t.finQueued) return;
  const st = t.state;
  if (st === TCP_ESTABLISHED || st === TCP_SYN_RECV) setState(ctx, t, TCP_FIN_WAIT1);
  else if (st === TCP_CLOSE_WAIT) setState(ctx, t, TCP_LAST_ACK);
  else return;
  ctx.refresh();
  t.finQueued = true;
  xmit(ctx, t);
}

/**
 * tcp_close: the application lets go. Unread data (or `reset`) aborts with a RST
 * (TCPAbortOnClose); otherwise the FIN goes after the queued data and the connection finishes
 * on its own (an orphan, FIN-WAIT-2 bounded by tcp_fin_timeout).
 */
export function tcpClose(ctx: TcpCtx, t: Tcb, reset: boolean): void {
  ctx.refresh();
  t.user = null;
  t.orphan = true;
  const unread = t.rx.pending > 0 || (t.frames !== null && t.frames.queued > 0);
  freeFrames(ctx, t);
  const st = t.state;
  if (st === TCP_CLOSE || st === TCP_TIME_WAIT) return;
  if (st === TCP_SYN_SENT) {
    tcpDone(ctx, t);
    return;
  }
  if (reset || unread) {
    if (!reset) ctx.mib.ext.v[TCPEXT.TCPAbortOnClose]++;
    sendActiveReset(ctx, t);
    tcpDone(ctx, t);
    return;
  }
  tcpShutdown(ctx, t);
  if (t.state === TCP_FIN_WAIT2) ctx.wheel.arm(t.tKeep, ctx.now() + ctx.sysctl.tcp_fin_timeout * 1000);
}

/**
 * tcp_cleanup_rbuf: the application took bytes; if the window we could offer now is at least
 * twice what the peer was last told, tell it (a window update), so a reader that was slow does
 * not leave the sender stalled.
 */
export function tcpAfterRead(ctx: TcpCtx, t: Tcb): void {
  const st = t.state;
  if (st !== TCP_ESTABLISHED && st !== TCP_FIN_WAIT1 && st !== TCP_FIN_WAIT2) return;
  rcvSpaceAdjust(ctx, t);
  const held = rcvHeld(t);
  if (held >= t.heldAtAdv) return; // nothing was read since the peer was last told
  const cur = seqDiff(seqAdd(t.rcv_wup, t.rcv_wnd), t.rcv_nxt);
  if (2 * cur > t.rcvbuf) return;
  const free = t.rcvbuf - held;
  if (free >= 2 * cur && free >= 2 * t.rcv_mss) {
    ctx.refresh();
    sendAck(ctx, t);
  }
}

/** SO_KEEPALIVE (+ TCP_KEEPIDLE in ms, 0 = tcp_keepalive_time). */
export function tcpSetKeepalive(ctx: TcpCtx, t: Tcb, on: boolean, idleMs: number): void {
  t.keepalive = on;
  t.keepIdleMs = idleMs;
  if (t.tKeep < 0 || t.state === TCP_TIME_WAIT || t.state === TCP_FIN_WAIT2) return;
  if (on) {
    ctx.refresh();
    armKeepalive(ctx, t);
  } else ctx.wheel.cancel(t.tKeep);
}

/** Close every connection and listener at once (stack shutdown): frames back, no timers left. */
export function tcpCloseAll(ctx: TcpCtx): void {
  for (const l of [...ctx.table.listeners]) if (l !== null) ctx.table.removeListener(l);
  for (const t of [...ctx.table.all()]) {
    if (t.state !== TCP_TIME_WAIT && t.state !== TCP_CLOSE) sendActiveReset(ctx, t);
    tcpDone(ctx, t);
  }
}

