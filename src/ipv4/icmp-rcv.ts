import type { Batch } from '../core/batch.ts';
import type { Graph, Stage } from '../core/graph.ts';
import * as checksum from '../wire/checksum.ts';
import * as icmp from '../wire/icmp.ts';
import * as ipv4 from '../wire/ipv4.ts';
import { RTCF_BROADCAST, RTCF_MULTICAST, type Ipv4Ctx } from './ctx.ts';
import { ICMP } from './mib.ts';
// Hot path: imported bindings as module-local consts (src/wire/README.md, "On the hot path").
const { csumReplace16 } = checksum;
const {
  ICMP_CHECKSUM,
  ICMP_DEST_UNREACH,
  ICMP_ECHO,
  ICMP_ECHOREPLY,
  ICMP_HLEN,
  ICMP_PARAMETERPROB,
  ICMP_REDIRECT,
  ICMP_SOURCE_QUENCH,
  ICMP_TIME_EXCEEDED,
  ICMP_TIMESTAMP,
  ICMP_TIMESTAMPREPLY,
  ICMP_TS_LEN,
  ICMP_TS_RECEIVE,
  ICMP_TS_TRANSMIT,
  ICMP_TYPE,
  ICMP_UN,
  icmpCode,
  icmpCsumOk,
  NR_ICMP_TYPES,
  writeIcmpHeader,
} = icmp;
const { IPPROTO_ICMP, IPV4_DADDR, IPV4_HLEN, IPV4_SADDR, IPV4_TOS, ipIhl, ipProto, writeIpv4Header } = ipv4;

/** ICMP types -> Icmp In* counter id (-1 = counted in InMsgs only). */
const IN_COUNTER = new Int16Array(NR_ICMP_TYPES + 1).fill(-1);
IN_COUNTER[ICMP_ECHOREPLY] = ICMP.InEchoReps;
IN_COUNTER[ICMP_DEST_UNREACH] = ICMP.InDestUnreachs;
IN_COUNTER[ICMP_SOURCE_QUENCH] = ICMP.InSrcQuenchs;
IN_COUNTER[ICMP_REDIRECT] = ICMP.InRedirects;
IN_COUNTER[ICMP_ECHO] = ICMP.InEchos;
IN_COUNTER[ICMP_TIME_EXCEEDED] = ICMP.InTimeExcds;
IN_COUNTER[ICMP_PARAMETERPROB] = ICMP.InParmProbs;
IN_COUNTER[ICMP_TIMESTAMP] = ICMP.InTimestamps;
IN_COUNTER[ICMP_TIMESTAMPREPLY] = ICMP.InTimestampReps;

/** The error types icmp_rcv hands to icmp_unreach (and so to the quoted protocol's err_handler). */
const UNREACH = new Uint8Array(NR_ICMP_TYPES + 1);
UNREACH[ICMP_DEST_UNREACH] = 1;
UNREACH[ICMP_SOURCE_QUENCH] = 1;
UNREACH[ICMP_TIME_EXCEEDED] = 1;
UNREACH[ICMP_PARAMETERPROB] = 1;

/**
 * inet_protos[proto]->err_handler: an ICMP error quoting a packet of that protocol (one we sent).
 * q: the quoted IP header's address; qlen: bytes from there, at least its header plus the 8 bytes
 * of transport header RFC 792 promises; info: the ICMP header's second word (a parameter problem's
 * pointer); dif: the receiving device. Returns false when no socket is concerned (Icmp InErrors,
 * as __udp4_lib_err counts). Runs inside the dispatch: it must not throw or allocate per call.
 */
export type IcmpErrHandler = (q: number, qlen: number, type: number, code: number, info: number, dif: number) => boolean;

/**
 * `icmp-rcv`: icmp_rcv. Checksum over the whole message (drop InCsumErrors), then echo request ->
 * echo reply built in place: the IP header is rewritten (addresses swapped, fresh id and TTL,
 * options dropped as Linux's reply carries none) and the ICMP checksum patched with RFC 1624 for
 * the type change, so the payload is never summed twice. Replies go to `ip-output`. Errors
 * (unreachable, time exceeded, parameter problem, source quench) to a unicast address go to the
 * err_handler of the quoted packet's protocol (icmp_unreach; UDP's reports ECONNREFUSED...);
 * then they, and the other types, are counted and consumed (no ICMP sockets yet).
 */
export class IcmpRcv implements Stage {
  readonly name = 'icmp-rcv';
  private g!: Graph;
  private sOutput = 0;
  private rErr = 0;
  private rCsum = 0;
  private rIgnored = 0;
  private readonly errHandlers: Array<IcmpErrHandler | null> = new Array<IcmpErrHandler | null>(256).fill(null);

  constructor(private readonly ctx: Ipv4Ctx) {}

  /** inet_add_protocol's err_handler: ICMP errors quoting IP protocol `proto` go to fn (null: none). */
  setErrHandler(proto: number, fn: IcmpErrHandler | null): void {
    this.errHandlers[proto & 0xff] = fn;
  }

  init(g: Graph): void {
    this.g = g;
    this.sOutput = g.id('ip-output');
    this.rErr = g.reason('icmp.InErrors');
    this.rCsum = g.reason('icmp.InCsumErrors');
    this.rIgnored = g.reason('icmp.echo_ignored');
  }

  run(b: Batch, v: Uint16Array, n: number): void {
    const g = this.g;
    const ctx = this.ctx;
    const u8 = ctx.u8;
    const dv = ctx.dv;
    const m = ctx.mib.icmp.v;
    const pool = ctx.pool;
    for (let j = 0; j < n; j++) {
      const i = v[j];
      const a = b.addr[i];
      const t = a + b.l4[i];
      const len = b.len[i] - b.l4[i];
      m[ICMP.InMsgs]++;
      if (len < ICMP_HLEN) {
        m[ICMP.InErrors]++;
        g.drop(b, i, this.rErr);
        continue;
      }
      if (!icmpCsumOk(dv, t, len)) {
        m[ICMP.InCsumErrors]++;
        m[ICMP.InErrors]++;
        g.drop(b, i, this.rCsum);
        continue;
      }
      const type = u8[t + ICMP_TYPE];
      if (type > NR_ICMP_TYPES) {
        m[ICMP.InErrors]++;
        g.drop(b, i, this.rErr);
        continue;
      }
      const c = IN_COUNTER[type];
      if (c >= 0) m[c]++;
      if (type !== ICMP_ECHO) {
        if (type === ICMP_TIMESTAMP && this.timestamp(b, i, t, len)) {
          g.enqueue(this.sOutput, i);
          continue;
        }
        // An error sent to a broadcast or multicast address is not passed on (icmp_rcv drops it).
        if (UNREACH[type] !== 0 && (b.aux[i] & (RTCF_BROADCAST | RTCF_MULTICAST)) === 0) this.unreach(b, i, t, len, type);
        // Replies would go to ICMP sockets; there are none. Consumed, not dropped.
        pool.free(a);
        continue;
      }
      if ((b.aux[i] & (RTCF_BROADCAST | RTCF_MULTICAST)) !== 0 && ctx.sysctl.icmp_echo_ignore_broadcasts !== 0) {
        m[ICMP.InErrors]++;
        g.drop(b, i, this.rErr);
        continue;
      }
      if (ctx.sysctl.icmp_echo_ignore_all !== 0) {
        g.drop(b, i, this.rIgnored);
        continue;
      }
      this.echoReply(b, i, t, len);
      g.enqueue(this.sOutput, i);
    }
  }

  /**
   * icmp_unreach + icmp_socket_deliver: the quoted IP header must be whole (ihl >= 5) with 8 bytes
   * of transport header after it, else InErrors; then the quoted protocol's err_handler.
   */
  private unreach(b: Batch, i: number, t: number, len: number, type: number): void {
    const u8 = this.ctx.u8;
    const q = t + ICMP_HLEN;
    const qlen = len - ICMP_HLEN;
    const m = this.ctx.mib.icmp.v;
    const ihl = qlen < IPV4_HLEN ? 0 : ipIhl(u8, q);
    if (ihl < IPV4_HLEN || qlen < ihl + 8) {
      m[ICMP.InErrors]++;
      return;
    }
    const fn = this.errHandlers[ipProto(u8, q)];
    if (fn !== null && !fn(q, qlen, type, icmpCode(u8, t), this.ctx.dv.getUint32(t + ICMP_UN), b.iif[i])) m[ICMP.InErrors]++;
  }

  /**
   * icmp_timestamp: answer with receive and transmit times in ms since midnight UT (RFC 792).
   * Not for broadcasts (icmp_echo_ignore_broadcasts covers timestamps too in Linux).
   */
  private timestamp(b: Batch, i: number, t: number, len: number): boolean {
    if (len < ICMP_TS_LEN) {
      this.ctx.mib.icmp.v[ICMP.InErrors]++;
      return false;
    }
    if ((b.aux[i] & (RTCF_BROADCAST | RTCF_MULTICAST)) !== 0 && this.ctx.sysctl.icmp_echo_ignore_broadcasts !== 0) return false;
    const dv = this.ctx.dv;
    const now = Date.now() % 86_400_000;
    // Linux replies with just the 20-byte timestamp message.
    this.echoReply(b, i, t, ICMP_TS_LEN);
    t = b.addr[i] + b.l4[i];
    dv.setUint32(t + ICMP_TS_RECEIVE, now);
    dv.setUint32(t + ICMP_TS_TRANSMIT, now);
    writeIcmpHeader(dv, t, ICMP_TIMESTAMPREPLY, icmpCode(this.ctx.u8, t), dv.getUint32(t + ICMP_UN), ICMP_TS_LEN);
    const m = this.ctx.mib.icmp.v;
    m[ICMP.OutEchoReps]--;
    m[ICMP.OutTimestampReps]++;
    return true;
  }

  /** icmp_echo -> icmp_reply, in place. */
  private echoReply(b: Batch, i: number, t: number, len: number): void {
    const ctx = this.ctx;
    const u8 = ctx.u8;
    const dv = ctx.dv;
    const l3 = b.l3[i];
    const h = b.addr[i] + l3;
    const saddr = dv.getUint32(h + IPV4_SADDR);
    let daddr = dv.getUint32(h + IPV4_DADDR);
    // A reply to a broadcast ping comes from the address of the receiving device.
    if ((b.aux[i] & (RTCF_BROADCAST | RTCF_MULTICAST)) !== 0) daddr = ctx.devAddr(b.iif[i]);
    const tos = u8[h + IPV4_TOS];
    if (t !== h + IPV4_HLEN) {
      u8.copyWithin(h + IPV4_HLEN, t, t + len);
      t = h + IPV4_HLEN;
    }
    writeIpv4Header(dv, h, tos, IPV4_HLEN + len, ctx.nextIdent(), 0, ctx.sysctl.ip_default_ttl, IPPROTO_ICMP, daddr, saddr);
    // Type and code are one 16-bit word of the checksum: patch it for the new type.
    const old = dv.getUint16(t + ICMP_TYPE);
    const nw = (ICMP_ECHOREPLY << 8) | (old & 0xff);
    dv.setUint16(t + ICMP_TYPE, nw);
    dv.setUint16(t + ICMP_CHECKSUM, csumReplace16(dv.getUint16(t + ICMP_CHECKSUM), old, nw));
    b.len[i] = l3 + IPV4_HLEN + len;
    b.l4[i] = l3 + IPV4_HLEN;
    b.aux[i] = 0;
    const m = ctx.mib.icmp.v;
    m[ICMP.OutMsgs]++;
    m[ICMP.OutEchoReps]++;
  }
}
