import { enterLoss } from './ack.ts';
import { tcpDone } from './conn.ts';
import type { TcpCtx } from './ctx.ts';
import { TCPEXT } from './mib.ts';
import { armProbe, armRto, sendAck, sendActiveReset, sendProbe, sendSyn, xmit } from './output.ts';
import { seqDiff } from './seq.ts';
import {
  RTX_NONE,
  RTX_PROBE,
  RTX_RTO,
  TCP_CLOSE,
  TCP_CLOSE_WAIT,
  TCP_ESTABLISHED,
  TCP_FIN_WAIT2,
  TCP_RTO_MAX,
  TCP_SYN_RECV,
  TCP_SYN_SENT,
  TCP_TIME_WAIT,
  type Tcb,
} from './tcb.ts';

/**
 * tcp_timer.c on the stack's timer wheel: three timers per connection, each a wheel id whose
 * argument is the connection's table slot — retransmit (RTO, SYN/SYN-ACK retries, zero-window
 * probes), delayed ACK, and the keepalive timer that also times TIME-WAIT and an orphan's
 * FIN-WAIT-2. Handlers run outside any dispatch; what they send leaves through ip-local-out.
 */
export function registerTcpTimers(ctx: TcpCtx): void {
  const w = ctx.wheel;
  const conns = ctx.table.conns;
  ctx.kRtx = w.kind('tcp-retransmit', (id) => {
    const t = conns[id];
    if (t !== null) retransmitTimer(ctx, t);
  });
  ctx.kDack = w.kind('tcp-delack', (id) => {
    const t = conns[id];
    if (t !== null) delackTimer(ctx, t);
  });
  ctx.kKeep = w.kind('tcp-keepalive', (id) => {
    const t = conns[id];
    if (t !== null) keepaliveTimer(ctx, t);
  });
}

/** tcp_retransmit_timer / tcp_probe_timer. */
export function retransmitTimer(ctx: TcpCtx, t: Tcb): void {
  const mode = t.rtxMode;
  t.rtxMode = RTX_NONE;
  if (mode === RTX_PROBE) {
    probeTimer(ctx, t);
    return;
  }
  if (mode !== RTX_RTO) return;
  const sys = ctx.sysctl;
  const ext = ctx.mib.ext.v;
  if (t.state === TCP_SYN_SENT || t.state === TCP_SYN_RECV) {
    const max = t.state === TCP_SYN_SENT ? sys.tcp_syn_retries : sys.tcp_synack_retries;
    if (t.retransmits >= max) {
      tcpDone(ctx, t, timedOut(t));
      return;
    }
    backOff(t);
    ext[TCPEXT.TCPTimeouts]++;
    sendSyn(ctx, t, true);
    armRto(ctx, t);
    return;
  }
  if (t.snd_una === t.snd_nxt) {
    // Armed because a send found no room (output.ts): send what waits now.
    xmit(ctx, t);
    return;
  }
  if (t.retransmits >= sys.tcp_retries2) {
    ext[TCPEXT.TCPAbortOnTimeout]++;
    tcpDone(ctx, t, timedOut(t));
    return;
  }
  ext[TCPEXT.TCPTimeouts]++;
  enterLoss(t);
  backOff(t);
  xmit(ctx, t);
  armRto(ctx, t);
}

function backOff(t: Tcb): void {
  t.retransmits++;
  t.backoff++;
  t.rttSeq = 0;
  const r = t.rto * 2;
  t.rto = r < TCP_RTO_MAX ? r : TCP_RTO_MAX;
}

/** The peer's window is zero: probe it (tcp_probe_timer); data goes as soon as it opens. */
function probeTimer(ctx: TcpCtx, t: Tcb): void {
  const unsent = seqDiff(t.sq.end, t.snd_nxt) > 0 || (t.finQueued && !t.finSent);
  if (t.snd_wnd > 0 || !unsent || t.snd_una !== t.snd_nxt) {
    t.backoff = 0;
    xmit(ctx, t);
    return;
  }
  if (sendProbe(ctx, t)) ctx.mib.ext.v[TCPEXT.TCPWinProbe]++;
  if (t.backoff < 16) t.backoff++;
  armProbe(ctx, t);
}

/** tcp_delack_timer: the ACK we held back goes now. */
function delackTimer(ctx: TcpCtx, t: Tcb): void {
  if (t.state === TCP_CLOSE) return;
  if (t.rcvSinceAck > 0 || t.ackNow) {
    // The reply it waited for did not come: no longer pingpong (inet_csk_exit_pingpong_mode).
    t.pingpong = false;
    if (sendAck(ctx, t)) ctx.mib.ext.v[TCPEXT.DelayedACKs]++;
  }
}

/** tcp_keepalive_timer: TIME-WAIT's end, an orphan's FIN-WAIT-2 timeout, or keepalive probes. */
function keepaliveTimer(ctx: TcpCtx, t: Tcb): void {
  const st = t.state;
  if (st === TCP_TIME_WAIT) {
    ctx.mib.ext.v[TCPEXT.TW]++;
    tcpDone(ctx, t);
    return;
  }
  if (st === TCP_FIN_WAIT2 && t.orphan) {
    tcpDone(ctx, t);
    return;
  }
  if (!t.keepalive || (st !== TCP_ESTABLISHED && st !== TCP_CLOSE_WAIT)) return;
  const sys = ctx.sysctl;
  const now = ctx.now();
  const last = Math.max(t.lastAckRecv, t.lastDataRecv, t.startedAt);
  const idle = now - last;
  const ktime = t.keepIdleMs > 0 ? t.keepIdleMs : sys.tcp_keepalive_time * 1000;
  // Probes go only when nothing is in flight (the RTO watches data in flight).
  if (idle < ktime || t.snd_una !== t.snd_nxt) {
    ctx.wheel.arm(t.tKeep, last + ktime > now ? last + ktime : now + ktime);
    return;
  }
  if (t.probes >= sys.tcp_keepalive_probes) {
    sendActiveReset(ctx, t);
    tcpDone(ctx, t, timedOut(t));
    return;
  }
  if (sendProbe(ctx, t)) {
    t.probes++;
    ctx.mib.ext.v[TCPEXT.TCPKeepAlive]++;
  }
  ctx.wheel.arm(t.tKeep, now + sys.tcp_keepalive_intvl * 1000);
}

/** tcp_write_err: a connection that timed out reports the ICMP error it last heard, else ETIMEDOUT. */
function timedOut(t: Tcb): string {
  return t.softErr !== '' ? t.softErr : 'ETIMEDOUT';
}
