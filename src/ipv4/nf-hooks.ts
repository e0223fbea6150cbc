import type { Batch } from '../core/batch.ts';
import { csumFinish, csumPartial, pseudoHdrSum } from '../wire/checksum.ts';
import type { Ipv4Ctx } from './ctx.ts';
import { ICMP_DEST_UNREACH, writeIpHeader, type IcmpSender } from './icmp-send.ts';

import { NF_ACCEPT, NF_DROP, NF_INET_LOCAL_IN, NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING, NF_INET_PRE_ROUTING, NF_REJECT, NfPacket, REJECT_TCP_RESET } from './netfilter/packet.ts';

export { NF_ACCEPT, NF_DROP, NF_INET_FORWARD, NF_INET_LOCAL_IN, NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING, NF_INET_PRE_ROUTING, NF_REJECT, REJECT_TCP_RESET } from './netfilter/packet.ts';

/** Returned by NfHooks.run: packet i was turned into a reject reply in place; send it to ip-output. */
export const NF_REPLY = 3;

/** What the stages need of netfilter/netfilter.ts's Netfilter (a stand-in in tests). */
export interface NetfilterLike {
  /** NF_ACCEPT, NF_DROP or NF_REJECT (p.rejectWith = ICMP unreachable code or REJECT_TCP_RESET). */
  hook(hook: number, p: NfPacket): number;
  /** True when the hook has no rules and an ACCEPT policy (used by refresh() only). */
  hookIsEmpty?(hook: number): boolean;
}

/**
 * NF_HOOK for the IPv4 stages: fills the reused NfPacket from packet i, asks netfilter, applies
 * MARK, and turns REJECT into an ICMP error or TCP RST in place. `on[hook]` is a plain byte the
 * stages test before calling run(), so a hook without rules costs one load per packet.
 */
export class NfHooks {
  nf: NetfilterLike | null = null;
  readonly p = new NfPacket();
  /** Per hook: 1 when netfilter must be consulted. */
  readonly on = new Uint8Array(5);

  constructor(
    private readonly ctx: Ipv4Ctx,
    private readonly icmp: IcmpSender,
  ) {}

  /**
   * Attach (or detach with null) a netfilter. Every hook is consulted until refresh() is called:
   * a rule added later must never be skipped silently.
   */
  attach(nf: NetfilterLike | null): void {
    this.nf = nf;
    this.on.fill(nf === null ? 0 : 1);
  }

  /**
   * Skip hooks that are empty right now (hookIsEmpty). Saves filling NfPacket per packet, but
   * then it MUST be called again after every rule or policy change.
   */
  refresh(): void {
    const nf = this.nf;
    for (let h = 0; h < 5; h++) this.on[h] = nf === null ? 0 : nf.hookIsEmpty === undefined || !nf.hookIsEmpty(h) ? 1 : 0;
  }

  /** Run hook for packet i (IP header at b.l3, validated). Returns NF_DROP, NF_ACCEPT or NF_REPLY. */
  run(hook: number, b: Batch, i: number): number {
    const nf = this.nf;
    if (nf === null) return NF_ACCEPT;
    const dv = this.ctx.dv;
    const u8 = this.ctx.u8;
    const h = b.addr[i] + b.l3[i];
    const len = b.len[i] - b.l3[i];
    const p = this.p;
    const ihl = (u8[h] & 0x0f) << 2;
    const proto = u8[h + 9];
    const frag = dv.getUint16(h + 6) & 0x1fff;
    // iptables refuses -i in OUTPUT/POSTROUTING and -o in PREROUTING/INPUT: -1 there.
    p.iif = hook === NF_INET_LOCAL_OUT || hook === NF_INET_POST_ROUTING ? -1 : b.iif[i];
    p.oif = hook === NF_INET_PRE_ROUTING || hook === NF_INET_LOCAL_IN ? -1 : b.oif[i];
    p.saddr = dv.getUint32(h + 12);
    p.daddr = dv.getUint32(h + 16);
    p.proto = proto;
    p.len = len;
    p.mark = b.mark[i];
    p.fragOff = frag;
    p.sport = -1;
    p.dport = -1;
    p.icmpType = -1;
    p.icmpCode = -1;
    p.tcpFlags = 0;
    p.rejectWith = 0;
    // Ports and types only from the first fragment, and only if they are within the datagram.
    const l4 = h + ihl;
    if (frag === 0) {
      if ((proto === 6 || proto === 17) && len >= ihl + 4) {
        p.sport = dv.getUint16(l4);
        p.dport = dv.getUint16(l4 + 2);
        if (proto === 6 && len >= ihl + 14) p.tcpFlags = u8[l4 + 13];
      } else if (proto === 1 && len >= ihl + 2) {
        p.icmpType = u8[l4];
        p.icmpCode = u8[l4 + 1];
      }
    }
    const verdict = nf.hook(hook, p);
    if (p.mark !== b.mark[i]) b.mark[i] = p.mark >>> 0;
    if (verdict === NF_ACCEPT) return NF_ACCEPT;
    // REJECT of our own output would answer ourselves: there is no loopback, so it just drops.
    if (verdict === NF_REJECT && hook !== NF_INET_LOCAL_OUT && hook !== NF_INET_POST_ROUTING) return this.reject(b, i, p.rejectWith);
    return NF_DROP;
  }

  /** ipt_REJECT: ICMP unreachable (via icmp_send, so its rules and rate limit apply) or a TCP RST. */
  private reject(b: Batch, i: number, how: number): number {
    if (how === REJECT_TCP_RESET) return sendReset(this.ctx, b, i) ? NF_REPLY : NF_DROP;
    return this.icmp.send(b, i, ICMP_DEST_UNREACH, how & 0xff, 0) ? NF_REPLY : NF_DROP;
  }
}

/**
 * nf_send_reset: replace packet i with a TCP RST answering it, in place. Not for fragments,
 * truncated headers or RSTs. RFC 793: if the segment had ACK, seq = its ack; else ack = its
 * seq + SYN + FIN + payload length.
 */
export function sendReset(ctx: Ipv4Ctx, b: Batch, i: number): boolean {
  const dv = ctx.dv;
  const u8 = ctx.u8;
  const l3 = b.l3[i];
  const h = b.addr[i] + l3;
  const len = b.len[i] - l3;
  const ihl = (u8[h] & 0x0f) << 2;
  if (u8[h + 9] !== 6 || (dv.getUint16(h + 6) & 0x3fff) !== 0 || len < ihl + 20) return false;
  const t = h + ihl;
  const doff = (u8[t + 12] >>> 4) << 2;
  const flags = u8[t + 13];
  if ((flags & 0x04) !== 0 || doff < 20 || ihl + doff > len) return false;
  const saddr = dv.getUint32(h + 12);
  const daddr = dv.getUint32(h + 16);
  if (saddr >>> 24 === 0 || saddr >>> 28 >= 0xe || saddr >>> 24 === 127) return false;
  const sport = dv.getUint16(t);
  const dport = dv.getUint16(t + 2);
  const seq = dv.getUint32(t + 4);
  const ackSeq = dv.getUint32(t + 8);
  const o = h + 20;
  dv.setUint16(o, dport);
  dv.setUint16(o + 2, sport);
  if ((flags & 0x10) !== 0) {
    dv.setUint32(o + 4, ackSeq);
    dv.setUint32(o + 8, 0);
    dv.setUint16(o + 12, 0x5004); // doff 5, RST
  } else {
    const plen = len - ihl - doff + (flags & 0x02 ? 1 : 0) + (flags & 0x01 ? 1 : 0);
    dv.setUint32(o + 4, 0);
    dv.setUint32(o + 8, (seq + plen) >>> 0);
    dv.setUint16(o + 12, 0x5014); // doff 5, RST|ACK
  }
  dv.setUint32(o + 14, 0); // window 0, checksum 0
  dv.setUint16(o + 18, 0); // urgent
  writeIpHeader(dv, h, 0, 40, ctx.nextIdent(), 0x4000, ctx.sysctl.ip_default_ttl, 6, daddr, saddr);
  dv.setUint16(o + 16, csumFinish(csumPartial(dv, o, 20, pseudoHdrSum(daddr, saddr, 6, 20))));
  b.len[i] = l3 + 40;
  b.l4[i] = l3 + 20;
  b.aux[i] = 0;
  return true;
}
