import type { Batch } from '../core/batch.ts';
import { csumFinish, csumPartial, pseudoHdrSum } from './csum.ts';
import type { Ipv4Ctx } from './ctx.ts';
import { writeIpHeader, type IcmpSender } from './icmp-send.ts';

/** Hook numbers (enum nf_inet_hooks). */
export const NF_INET_PRE_ROUTING = 0;
export const NF_INET_LOCAL_IN = 1;
export const NF_INET_FORWARD = 2;
export const NF_INET_LOCAL_OUT = 3;
export const NF_INET_POST_ROUTING = 4;
export const NF_DROP = 0;
export const NF_ACCEPT = 1;
/** Returned by NfHooks.run: packet i was turned into a reject reply in place; send it to ip-output. */
export const NF_REPLY = 2;

/** rejectWith value for `--reject-with tcp-reset`; any other nonzero value is (type << 8 | code). */
export const REJECT_TCP_RESET = 0x10000;

/** The fields netfilter matches on: one object, refilled per packet (no allocation). */
export interface NfPacketLike {
  iif: number;
  oif: number;
  saddr: number;
  daddr: number;
  proto: number;
  sport: number;
  dport: number;
  icmpType: number;
  icmpCode: number;
  tcpFlags: number;
  len: number;
  mark: number;
  /** Fragment offset in 8-byte units (0 = first or unfragmented). */
  fragOff: number;
  /** Out: set by REJECT (0 = none). */
  rejectWith: number;
}

export interface NetfilterLike {
  hook(hook: number, p: NfPacketLike): number;
  /** Optional: false when the hook has no rules and an ACCEPT policy (lets the stages skip it). */
  active?(hook: number): boolean;
}

export function newNfPacket(): NfPacketLike {
  return { iif: 0, oif: 0, saddr: 0, daddr: 0, proto: 0, sport: 0, dport: 0, icmpType: 0, icmpCode: 0, tcpFlags: 0, len: 0, mark: 0, fragOff: 0, rejectWith: 0 };
}

/**
 * NF_HOOK for the IPv4 stages: fills the reused NfPacket from packet i, asks netfilter, applies
 * MARK, and turns REJECT into an ICMP error or TCP RST in place. `on[hook]` is a plain byte the
 * stages test before calling run(), so a hook without rules costs one load per packet.
 */
export class NfHooks {
  nf: NetfilterLike | null = null;
  p: NfPacketLike = newNfPacket();
  /** Per hook: 1 when netfilter must be consulted. */
  readonly on = new Uint8Array(5);

  constructor(
    private readonly ctx: Ipv4Ctx,
    private readonly icmp: IcmpSender,
  ) {}

  /** Attach (or detach with null) a netfilter; `p` is the NfPacket object it expects, if any. */
  attach(nf: NetfilterLike | null, p?: NfPacketLike): void {
    this.nf = nf;
    if (p !== undefined) this.p = p;
    this.refresh();
  }

  /** Re-read which hooks have rules (call after rule changes when netfilter offers active()). */
  refresh(): void {
    const nf = this.nf;
    for (let h = 0; h < 5; h++) this.on[h] = nf === null ? 0 : nf.active === undefined || nf.active(h) ? 1 : 0;
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
    p.iif = hook === NF_INET_LOCAL_OUT ? -1 : b.iif[i];
    p.oif = hook === NF_INET_PRE_ROUTING || hook === NF_INET_LOCAL_IN ? -1 : b.oif[i];
    p.saddr = dv.getUint32(h + 12);
    p.daddr = dv.getUint32(h + 16);
    p.proto = proto;
    p.len = len;
    p.mark = b.mark[i];
    p.fragOff = frag;
    p.sport = 0;
    p.dport = 0;
    p.icmpType = 0;
    p.icmpCode = 0;
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
    if (p.rejectWith !== 0 && hook !== NF_INET_LOCAL_OUT && hook !== NF_INET_POST_ROUTING) return this.reject(b, i, p.rejectWith);
    return NF_DROP;
  }

  /** ipt_REJECT: an ICMP error (via icmp_send, so its rules and rate limit apply) or a TCP RST. */
  private reject(b: Batch, i: number, how: number): number {
    if (how === REJECT_TCP_RESET) return sendReset(this.ctx, b, i) ? NF_REPLY : NF_DROP;
    return this.icmp.send(b, i, (how >>> 8) & 0xff, how & 0xff, 0) ? NF_REPLY : NF_DROP;
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
