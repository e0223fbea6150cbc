import type { Batch } from '../core/batch.ts';
import type { Graph, Stage } from '../core/graph.ts';
import { csumFinish, csumFold, csumPartial, csumReplace16 } from '../wire/checksum.ts';
import { RTCF_BROADCAST, RTCF_MULTICAST, type Ipv4Ctx } from './ctx.ts';
import { ICMP_ECHO, ICMP_ECHOREPLY, ICMP_TIMESTAMP, ICMP_TIMESTAMPREPLY, NR_ICMP_TYPES, writeIpHeader } from './icmp-send.ts';
import { ICMP } from './mib.ts';

/** ICMP types -> Icmp In* counter id (-1 = counted in InMsgs only). */
const IN_COUNTER = new Int16Array(NR_ICMP_TYPES + 1).fill(-1);
IN_COUNTER[0] = ICMP.InEchoReps;
IN_COUNTER[3] = ICMP.InDestUnreachs;
IN_COUNTER[4] = ICMP.InSrcQuenchs;
IN_COUNTER[5] = ICMP.InRedirects;
IN_COUNTER[8] = ICMP.InEchos;
IN_COUNTER[11] = ICMP.InTimeExcds;
IN_COUNTER[12] = ICMP.InParmProbs;
IN_COUNTER[13] = ICMP.InTimestamps;
IN_COUNTER[14] = ICMP.InTimestampReps;

/**
 * `icmp-rcv`: icmp_rcv. Checksum over the whole message (drop InCsumErrors), then echo request ->
 * echo reply built in place: the IP header is rewritten (addresses swapped, fresh id and TTL,
 * options dropped as Linux's reply carries none) and the ICMP checksum patched with RFC 1624 for
 * the type change, so the payload is never summed twice. Replies go to `ip-output`. Other types
 * are counted and consumed (no ICMP sockets yet).
 */
export class IcmpRcv implements Stage {
  readonly name = 'icmp-rcv';
  private g!: Graph;
  private sOutput = 0;
  private rErr = 0;
  private rCsum = 0;
  private rIgnored = 0;

  constructor(private readonly ctx: Ipv4Ctx) {}

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
      if (len < 8) {
        m[ICMP.InErrors]++;
        g.drop(b, i, this.rErr);
        continue;
      }
      if (csumFold(csumPartial(dv, t, len, 0)) !== 0xffff) {
        m[ICMP.InCsumErrors]++;
        m[ICMP.InErrors]++;
        g.drop(b, i, this.rCsum);
        continue;
      }
      const type = u8[t];
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
        // Errors and replies would go to sockets; none listen yet. Consumed, not dropped.
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
   * icmp_timestamp: answer with receive and transmit times in ms since midnight UT (RFC 792).
   * Not for broadcasts (icmp_echo_ignore_broadcasts covers timestamps too in Linux).
   */
  private timestamp(b: Batch, i: number, t: number, len: number): boolean {
    if (len < 20) {
      this.ctx.mib.icmp.v[ICMP.InErrors]++;
      return false;
    }
    if ((b.aux[i] & (RTCF_BROADCAST | RTCF_MULTICAST)) !== 0 && this.ctx.sysctl.icmp_echo_ignore_broadcasts !== 0) return false;
    const dv = this.ctx.dv;
    const now = Date.now() % 86_400_000;
    // Linux replies with just the 20-byte timestamp message.
    this.echoReply(b, i, t, 20);
    t = b.addr[i] + b.l4[i];
    dv.setUint8(t, ICMP_TIMESTAMPREPLY);
    dv.setUint32(t + 12, now);
    dv.setUint32(t + 16, now);
    dv.setUint16(t + 2, 0);
    dv.setUint16(t + 2, csumFinish(csumPartial(dv, t, 20, 0)));
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
    const saddr = dv.getUint32(h + 12);
    let daddr = dv.getUint32(h + 16);
    // A reply to a broadcast ping comes from the address of the receiving device.
    if ((b.aux[i] & (RTCF_BROADCAST | RTCF_MULTICAST)) !== 0) daddr = ctx.devAddr(b.iif[i]);
    const tos = u8[h + 1];
    if (t !== h + 20) {
      u8.copyWithin(h + 20, t, t + len);
      t = h + 20;
    }
    writeIpHeader(dv, h, tos, 20 + len, ctx.nextIdent(), 0, ctx.sysctl.ip_default_ttl, 1, daddr, saddr);
    const old = dv.getUint16(t);
    const nw = (ICMP_ECHOREPLY << 8) | (old & 0xff);
    dv.setUint16(t, nw);
    dv.setUint16(t + 2, csumReplace16(dv.getUint16(t + 2), old, nw));
    b.len[i] = l3 + 20 + len;
    b.l4[i] = l3 + 20;
    b.aux[i] = 0;
    const m = ctx.mib.icmp.v;
    m[ICMP.OutMsgs]++;
    m[ICMP.OutEchoReps]++;
  }
}
