import { PACKET_HOST, type Batch } from '../core/batch.ts';
import { RTN_BROADCAST } from './fib/types.ts';
import { csumFinish, csumPartial } from '../wire/checksum.ts';
import { ipSendCheck } from '../wire/ipv4.ts';
import { RTCF_BROADCAST, RTCF_LOCAL, RTCF_MULTICAST, type Ipv4Ctx } from './ctx.ts';
import { ICMP } from './mib.ts';

export const ICMP_ECHOREPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_SOURCE_QUENCH = 4;
export const ICMP_REDIRECT = 5;
export const ICMP_ECHO = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETERPROB = 12;
export const ICMP_TIMESTAMP = 13;
export const ICMP_TIMESTAMPREPLY = 14;
export const NR_ICMP_TYPES = 18;
// Codes for ICMP_DEST_UNREACH.
export const ICMP_NET_UNREACH = 0;
export const ICMP_HOST_UNREACH = 1;
export const ICMP_PROT_UNREACH = 2;
export const ICMP_PORT_UNREACH = 3;
export const ICMP_FRAG_NEEDED = 4;
export const ICMP_NET_ANO = 9;
export const ICMP_HOST_ANO = 10;
export const ICMP_PKT_FILTERED = 13;
// Codes for ICMP_TIME_EXCEEDED.
export const ICMP_EXC_TTL = 0;
export const ICMP_EXC_FRAGTIME = 1;

/** icmp_pointers[type].error: types that are errors (never answered with an error). */
function isErrorType(t: number): boolean {
  return t === 3 || t === 4 || t === 5 || t === 11 || t === 12;
}

/** Linux quotes as much of the offending datagram as fits in 576 bytes (RFC 1812 4.3.2.3). */
const ICMP_ERR_MAX = 576;
/** inet_peer_xrlim_allow: a destination may burst this many errors, then one per icmp_ratelimit. */
const XRLIM_BURST_FACTOR = 6;
const PEER_SLOTS = 1024;

/**
 * icmp_send: turn the offending packet i into an ICMP error IN PLACE (its frame is reused): a new
 * IP + ICMP header, then the original IP header and as much of its data as fits in 576 bytes.
 * The caller then hands i to `ip-output` (route back to the source). Returns false when no error
 * may be sent (the caller drops the packet): answers to ICMP errors, broadcasts/multicasts,
 * non-first fragments, bogus sources, or rate limited (icmpv4_global_allow + inet_peer_xrlim_allow).
 * Slow path: runs once per error, never per forwarded packet.
 */
export class IcmpSender {
  // Global token bucket (icmp_global_allow): tokens are messages.
  private gTokens = -1;
  private gLast = 0;
  // Per-destination buckets (inet_peer rate_tokens/rate_last), direct mapped: a colliding
  // destination takes the slot over. Bounded memory; the global bucket still caps the total.
  private readonly peerAddr = new Uint32Array(PEER_SLOTS);
  private readonly peerUsed = new Uint8Array(PEER_SLOTS);
  private readonly peerTokens = new Float64Array(PEER_SLOTS);
  private readonly peerLast = new Float64Array(PEER_SLOTS);

  constructor(private readonly ctx: Ipv4Ctx) {}

  /**
   * Build ICMP `type`/`code` for packet i. `info` is the 32-bit rest-of-header word written
   * big-endian (the MTU for FRAG_NEEDED, pointer << 24 for PARAMETERPROB). Needs b.l3 and a
   * validated IP header (ip-rcv ran) with b.len trimmed to the datagram.
   */
  send(b: Batch, i: number, type: number, code: number, info: number): boolean {
    const ctx = this.ctx;
    const u8 = ctx.u8;
    const dv = ctx.dv;
    const a = b.addr[i];
    const l3 = b.l3[i];
    const h = a + l3;
    const len = b.len[i] - l3;
    if (len < 20 || b.pkttype[i] !== PACKET_HOST) return false;
    if ((b.aux[i] & (RTCF_BROADCAST | RTCF_MULTICAST)) !== 0) return false;
    const ihl = (u8[h] & 0x0f) << 2;
    if (ihl < 20 || ihl > len) return false;
    // Only the first fragment may be answered.
    if ((dv.getUint16(h + 6) & 0x1fff) !== 0) return false;
    const saddr = dv.getUint32(h + 12);
    const daddr = dv.getUint32(h + 16);
    if (!unicastSource(saddr) || isBcastOrMcast(ctx, daddr)) return false;
    if (u8[h + 9] === 1) {
      // Never an error about an error (or about an ICMP type we do not know).
      if (len < ihl + 1) return false;
      const t = u8[h + ihl];
      if (t > NR_ICMP_TYPES || isErrorType(t)) return false;
    }
    if (!this.allow(saddr, type, code)) return false;

    // Source: our address if the packet was for us, else the address of the inbound device
    // (what Linux picks with icmp_errors_use_inbound_ifaddr, and in practice without it).
    const src = (b.aux[i] & RTCF_LOCAL) !== 0 ? daddr : ctx.devAddr(b.iif[i]);
    if (src === 0) return false;
    let quote = len;
    if (quote > ICMP_ERR_MAX - 28) quote = ICMP_ERR_MAX - 28;
    const tos = u8[h + 1];
    const base = ctx.pool.base(a);
    // The new IP + ICMP headers (28 bytes) go in front of the quoted datagram. Into the headroom
    // when there is room for them and a VLAN tag: the quote stays where it is (no copy). Else the
    // quote moves 28 bytes up, bounded by the room left in this frame's UMEM slot from where
    // the frame really starts, so nothing is ever written into the next frame.
    let nh = h;
    if (a - base >= 28 + 4) {
      nh = h - 28;
      b.addr[i] = a - 28;
    } else {
      const tail = base + ctx.pool.umem.frameSize - a;
      if (l3 + 28 + quote > tail) quote = tail - l3 - 28;
      // Linux quotes at least the IP header and 8 bytes of its payload; without room for them, none.
      if (quote < len && quote < ihl + 8) return false;
      u8.copyWithin(h + 28, h, h + quote);
    }
    writeIpHeader(dv, nh, (tos & 0x1e) | 0xc0, 28 + quote, ctx.nextIdent(), 0, ctx.sysctl.ip_default_ttl, 1, src, saddr);
    u8[nh + 20] = type;
    u8[nh + 21] = code;
    dv.setUint16(nh + 22, 0);
    dv.setUint32(nh + 24, info >>> 0);
    dv.setUint16(nh + 22, csumFinish(csumPartial(dv, nh + 20, 8 + quote, 0)));
    b.len[i] = l3 + 28 + quote;
    b.l4[i] = l3 + 20;
    b.aux[i] = 0;
    b.mark[i] = 0;
    const m = ctx.mib.icmp.v;
    m[ICMP.OutMsgs]++;
    if (type === ICMP_DEST_UNREACH) m[ICMP.OutDestUnreachs]++;
    else if (type === ICMP_TIME_EXCEEDED) m[ICMP.OutTimeExcds]++;
    else if (type === ICMP_PARAMETERPROB) m[ICMP.OutParmProbs]++;
    return true;
  }

  /**
   * icmpv4_mask_allow + icmpv4_global_allow + icmpv4_xrlim_allow. Only the types in Linux's
   * default icmp_ratemask (dest unreachable, source quench, time exceeded, parameter problem)
   * are limited, and never FRAG_NEEDED: path MTU discovery must not be starved.
   */
  allow(daddr: number, type: number, code: number): boolean {
    if (!(type === 3 || type === 4 || type === 11 || type === 12)) return true;
    if (type === ICMP_DEST_UNREACH && code === ICMP_FRAG_NEEDED) return true;
    const s = this.ctx.sysctl;
    const now = this.ctx.now();
    const m = this.ctx.mib.icmp.v;
    if (s.icmp_msgs_per_sec > 0) {
      if (this.gTokens < 0) {
        this.gTokens = s.icmp_msgs_burst;
        this.gLast = now;
      }
      let t = this.gTokens + ((now - this.gLast) * s.icmp_msgs_per_sec) / 1000;
      if (t > s.icmp_msgs_burst) t = s.icmp_msgs_burst;
      this.gLast = now;
      if (t < 1) {
        this.gTokens = t;
        m[ICMP.OutRateLimitGlobal]++;
        return false;
      }
      this.gTokens = t - 1;
    }
    const timeout = s.icmp_ratelimit;
    if (timeout <= 0) return true;
    const slot = (Math.imul(daddr, 0x9e3779b1) >>> 22) & (PEER_SLOTS - 1);
    if (this.peerUsed[slot] === 0 || this.peerAddr[slot] !== daddr >>> 0) {
      // A new peer starts with a full burst (Linux backdates rate_last by 60 s).
      this.peerUsed[slot] = 1;
      this.peerAddr[slot] = daddr;
      this.peerTokens[slot] = XRLIM_BURST_FACTOR * timeout;
      this.peerLast[slot] = now;
    }
    let token = this.peerTokens[slot] + (now - this.peerLast[slot]);
    if (token > XRLIM_BURST_FACTOR * timeout) token = XRLIM_BURST_FACTOR * timeout;
    this.peerLast[slot] = now;
    if (token >= timeout) {
      this.peerTokens[slot] = token - timeout;
      return true;
    }
    this.peerTokens[slot] = token;
    m[ICMP.OutRateLimitHost]++;
    return false;
  }
}

/** A source an error can be sent back to: not 0/8, loopback, multicast, class E or broadcast. */
export function unicastSource(a: number): boolean {
  const top = a >>> 24;
  return top !== 0 && top !== 127 && top < 224;
}

function isBcastOrMcast(ctx: Ipv4Ctx, daddr: number): boolean {
  if (daddr >>> 28 === 0xe || daddr === 0xffffffff) return true;
  const nh = ctx.fib.lookup(daddr);
  return nh >= 0 && ctx.fib.nhType[nh] === RTN_BROADCAST;
}

/** Write a 20-byte IPv4 header (no options) at h and its checksum. */
export function writeIpHeader(
  dv: DataView,
  h: number,
  tos: number,
  totLen: number,
  id: number,
  fragOff: number,
  ttl: number,
  proto: number,
  saddr: number,
  daddr: number,
): void {
  dv.setUint16(h, 0x4500 | (tos & 0xff));
  dv.setUint16(h + 2, totLen);
  dv.setUint16(h + 4, id);
  dv.setUint16(h + 6, fragOff);
  dv.setUint16(h + 8, ((ttl & 0xff) << 8) | (proto & 0xff));
  dv.setUint32(h + 12, saddr >>> 0);
  dv.setUint32(h + 16, daddr >>> 0);
  ipSendCheck(dv, h);
}
