import { PACKET_HOST, type Batch } from '../core/batch.ts';
import { VLAN_HLEN } from '../wire/ethernet.ts';
import {
  ICMP_DEST_UNREACH,
  ICMP_FRAG_NEEDED,
  ICMP_HLEN,
  ICMP_PARAMETERPROB,
  ICMP_SOURCE_QUENCH,
  ICMP_TIME_EXCEEDED,
  icmpIsError,
  icmpType,
  NR_ICMP_TYPES,
  writeIcmpHeader,
} from '../wire/icmp.ts';
import { IP_OFFSET, IPPROTO_ICMP, IPV4_HLEN, IPV4_TOS, ipDaddr, ipFragOff, ipIhl, ipProto, ipSaddr, writeIpv4Header } from '../wire/ipv4.ts';
import { RTCF_BROADCAST, RTCF_LOCAL, RTCF_MULTICAST, type Ipv4Ctx } from './ctx.ts';
import { RTN_BROADCAST } from './fib/types.ts';
import { ICMP } from './mib.ts';

/** Linux quotes as much of the offending datagram as fits in 576 bytes (RFC 1812 4.3.2.3). */
const ICMP_ERR_MAX = 576;
/** The new headers in front of the quote. */
const ERR_HLEN = IPV4_HLEN + ICMP_HLEN;
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
    if (len < IPV4_HLEN || b.pkttype[i] !== PACKET_HOST) return false;
    if ((b.aux[i] & (RTCF_BROADCAST | RTCF_MULTICAST)) !== 0) return false;
    const ihl = ipIhl(u8, h);
    if (ihl < IPV4_HLEN || ihl > len) return false;
    // Only the first fragment may be answered.
    if ((ipFragOff(dv, h) & IP_OFFSET) !== 0) return false;
    const saddr = ipSaddr(dv, h);
    const daddr = ipDaddr(dv, h);
    if (!unicastSource(saddr) || isBcastOrMcast(ctx, daddr)) return false;
    if (ipProto(u8, h) === IPPROTO_ICMP) {
      // Never an error about an error (or about an ICMP type we do not know).
      if (len < ihl + 1) return false;
      const t = icmpType(u8, h + ihl);
      if (t > NR_ICMP_TYPES || icmpIsError(t)) return false;
    }
    if (!this.allow(saddr, type, code)) return false;

    // Source: our address if the packet was for us, else the address of the inbound device
    // (what Linux picks with icmp_errors_use_inbound_ifaddr, and in practice without it).
    const src = (b.aux[i] & RTCF_LOCAL) !== 0 ? daddr : ctx.devAddr(b.iif[i]);
    if (src === 0) return false;
    let quote = len;
    if (quote > ICMP_ERR_MAX - ERR_HLEN) quote = ICMP_ERR_MAX - ERR_HLEN;
    const tos = u8[h + IPV4_TOS];
    const base = ctx.pool.base(a);
    // The new IP + ICMP headers (ERR_HLEN bytes) go in front of the quoted datagram. Into the
    // headroom when there is room for them and a VLAN tag: the quote stays where it is (no copy).
    // Else the quote moves ERR_HLEN bytes up, bounded by the room left in this frame's UMEM slot
    // from where the frame really starts, so nothing is ever written into the next frame.
    let nh = h;
    if (a - base >= ERR_HLEN + VLAN_HLEN) {
      nh = h - ERR_HLEN;
      b.addr[i] = a - ERR_HLEN;
    } else {
      const tail = base + ctx.pool.umem.frameSize - a;
      if (l3 + ERR_HLEN + quote > tail) quote = tail - l3 - ERR_HLEN;
      // Linux quotes at least the IP header and 8 bytes of its payload; without room for them, none.
      if (quote < len && quote < ihl + 8) return false;
      u8.copyWithin(h + ERR_HLEN, h, h + quote);
    }
    writeIpv4Header(dv, nh, (tos & 0x1e) | 0xc0, ERR_HLEN + quote, ctx.nextIdent(), 0, ctx.sysctl.ip_default_ttl, IPPROTO_ICMP, src, saddr);
    writeIcmpHeader(dv, nh + IPV4_HLEN, type, code, info, ICMP_HLEN + quote);
    b.len[i] = l3 + ERR_HLEN + quote;
    b.l4[i] = l3 + IPV4_HLEN;
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
    if (!(type === ICMP_DEST_UNREACH || type === ICMP_SOURCE_QUENCH || type === ICMP_TIME_EXCEEDED || type === ICMP_PARAMETERPROB)) return true;
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
