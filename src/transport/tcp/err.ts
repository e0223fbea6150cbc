import type { IcmpErrHandler } from '../../ipv4/icmp-rcv.ts';
import * as icmp from '../../wire/icmp.ts';
import * as ipv4 from '../../wire/ipv4.ts';
import * as tcp from '../../wire/tcp.ts';
import { icmpErrName } from '../icmp-err.ts';
import { tcpDone } from './conn.ts';
import type { TcpCtx } from './ctx.ts';
import { TCPEXT } from './mib.ts';
import { seqBetween } from './seq.ts';
import { TCP_SYN_RECV, TCP_SYN_SENT, TCP_TIME_WAIT } from './tcb.ts';
// Imported bindings as module-local consts (src/wire/README.md, "On the hot path").
const { ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, ICMP_HOST_UNREACH, ICMP_NET_UNREACH, ICMP_PARAMETERPROB } = icmp;
const { ipDaddr, ipIhl, ipSaddr } = ipv4;
const { tcpDport, tcpSeq, tcpSport } = tcp;

/**
 * tcp_v4_err: an ICMP error quoting a segment we sent. The connection is found by the quoted
 * 4-tuple read backwards (none: false, Icmp InErrors); a TIME-WAIT one ignores it, and so does
 * one whose quoted sequence number is not between snd_una and snd_nxt (OutOfWindowIcmps: a
 * blind attacker cannot guess it). A connection still opening is aborted with the error: connect
 * fails with ECONNREFUSED (port unreachable), EHOSTUNREACH...; one our listener is accepting
 * only for net/host unreachable and parameter problems (tcp_req_err: ListenDrops). An
 * established one keeps the error (sk_err_soft): if it later times out, that is what the
 * application hears instead of ETIMEDOUT — Linux without IP_RECVERR. Fragmentation needed (PMTU
 * discovery) and source quench are ignored.
 */
export function tcpErrHandler(ctx: TcpCtx): IcmpErrHandler {
  return (q, _qlen, type, code) => {
    const dv = ctx.dv;
    const th = q + ipIhl(ctx.u8, q);
    const id = ctx.table.lookup(ipSaddr(dv, q), tcpSport(dv, th), ipDaddr(dv, q), tcpDport(dv, th));
    if (id < 0) return false;
    const t = ctx.table.conns[id]!;
    const err = icmpErrName(type, code);
    if (t.state === TCP_TIME_WAIT || err === '' || (type === ICMP_DEST_UNREACH && code === ICMP_FRAG_NEEDED)) return true;
    if (!seqBetween(tcpSeq(dv, th), t.snd_una, t.snd_nxt)) {
      ctx.mib.ext.v[TCPEXT.OutOfWindowIcmps]++;
      return true;
    }
    if (t.state === TCP_SYN_SENT || (t.state === TCP_SYN_RECV && t.parent === null)) tcpDone(ctx, t, err);
    else if (t.state === TCP_SYN_RECV) {
      if (type === ICMP_PARAMETERPROB || (type === ICMP_DEST_UNREACH && (code === ICMP_NET_UNREACH || code === ICMP_HOST_UNREACH))) {
        ctx.mib.ext.v[TCPEXT.ListenDrops]++;
        tcpDone(ctx, t);
      }
    } else t.softErr = err;
    return true;
  };
}
