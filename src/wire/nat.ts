import { csumFinish, csumPartial } from './checksum.ts';
import { ICMP_CHECKSUM, ICMP_ECHO_ID, ICMP_HLEN } from './icmp.ts';
import { IP_OFFSET, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPV4_CHECK, IPV4_DADDR, IPV4_FRAG_OFF, IPV4_HLEN, IPV4_PROTOCOL, IPV4_SADDR, IPV4_VIHL } from './ipv4.ts';
import { TCP_CHECK, TCP_HLEN } from './tcp.ts';
import { UDP_CHECK } from './udp.ts';

/**
 * NAT's header rewrites (nf_nat_proto.c: nf_nat_ipv4_manip_pkt, {tcp,udp,icmp}_manip_pkt,
 * nf_nat_icmp_reply_translation's byte work): a new source or destination address and port
 * (ICMP queries: identifier) written into a datagram, every checksum patched incrementally
 * (RFC 1624 eqn. 3), the TCP/UDP ones for the pseudo-header's address too. Which tuple to write
 * is the NAT core's business (src/ipv4/nat/); this file only knows where the bytes are.
 */

/** Which end of the datagram a manip rewrites (enum nf_nat_manip_type). */
export const NAT_MANIP_SRC = 0;
export const NAT_MANIP_DST = 1;

// Module-local copies (README, "On the hot path"): natManip runs for every NATed packet.
const SRC = NAT_MANIP_SRC;
const VIHL = IPV4_VIHL;
const FRAG_OFF = IPV4_FRAG_OFF;
const PROTOCOL = IPV4_PROTOCOL;
const CHECK = IPV4_CHECK;
const SADDR = IPV4_SADDR;
const DADDR = IPV4_DADDR;
const HLEN = IPV4_HLEN;
const OFFSET = IP_OFFSET;
const P_TCP = IPPROTO_TCP;
const P_UDP = IPPROTO_UDP;
const P_ICMP = IPPROTO_ICMP;
const T_CHECK = TCP_CHECK;
const T_HLEN = TCP_HLEN;
const U_CHECK = UDP_CHECK;
const I_CHECKSUM = ICMP_CHECKSUM;
const I_ID = ICMP_ECHO_ID;
const I_HLEN = ICMP_HLEN;

/**
 * The checksum after an address (32 bits) and a port (16 bits) it covers change: one RFC 1624
 * update for both (the kernel's inet_proto_csum_replace4 + replace2). Pass equal old and new
 * ports for an address-only change.
 */
export function csumReplaceAddrPort(check: number, oldA: number, newA: number, oldP: number, newP: number): number {
  let s = (~check & 0xffff) + (~(oldA >>> 16) & 0xffff) + (~oldA & 0xffff) + (newA >>> 16) + (newA & 0xffff) + (~oldP & 0xffff) + newP;
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** ICMP messages with an identifier (icmp_manip_pkt rewrites only these; an error's word 4 is not an id). */
function icmpIsQuery(type: number): boolean {
  // echo reply 0, echo 8, timestamp 13/14, information 15/16, address mask 17/18
  return type === 0 || type === 8 || (type >= 13 && type <= 18);
}

/**
 * nf_nat_ipv4_manip_pkt: make the datagram at h (`avail` bytes of it present from h) carry
 * `addr`/`port` as its source (NAT_MANIP_SRC) or destination. TCP/UDP: the port and the
 * checksum (pseudo-header included); a UDP checksum of 0 (none) stays 0 and a patched one that
 * comes out 0 is sent as 0xffff; a TCP header cut short (the 8 bytes an ICMP error may quote)
 * gets its port without a checksum update, as the kernel does. ICMP queries: the identifier
 * (`port`) and the ICMP checksum. Other protocols and non-first fragments: the address only.
 * Returns false when the header the protocol needs is not there (the kernel drops then).
 */
export function natManip(dv: DataView, h: number, avail: number, manip: number, addr: number, port: number): boolean {
  if (avail < HLEN) return false;
  const ihl = (dv.getUint8(h + VIHL) & 0x0f) << 2;
  if (ihl < HLEN || ihl > avail) return false;
  const aOff = manip === SRC ? SADDR : DADDR;
  const oldA = dv.getUint32(h + aOff);
  addr >>>= 0;
  if ((dv.getUint16(h + FRAG_OFF) & OFFSET) === 0) {
    const proto = dv.getUint8(h + PROTOCOL);
    const l4 = h + ihl;
    const rest = avail - ihl;
    if (proto === P_TCP || proto === P_UDP) {
      if (rest < 8) return false;
      // source port at 0, destination at 2: the same for TCP and UDP
      const pOff = manip === SRC ? 0 : 2;
      const oldP = dv.getUint16(l4 + pOff);
      dv.setUint16(l4 + pOff, port);
      if (proto === P_TCP) {
        if (rest >= T_HLEN) dv.setUint16(l4 + T_CHECK, csumReplaceAddrPort(dv.getUint16(l4 + T_CHECK), oldA, addr, oldP, port));
      } else {
        const c = dv.getUint16(l4 + U_CHECK);
        if (c !== 0) {
          const n = csumReplaceAddrPort(c, oldA, addr, oldP, port);
          dv.setUint16(l4 + U_CHECK, n === 0 ? 0xffff : n);
        }
      }
    } else if (proto === P_ICMP) {
      if (rest < I_HLEN) return false;
      if (icmpIsQuery(dv.getUint8(l4))) {
        const oldId = dv.getUint16(l4 + I_ID);
        dv.setUint16(l4 + I_ID, port);
        // no pseudo-header in ICMP: the address change does not touch this checksum
        dv.setUint16(l4 + I_CHECKSUM, csumReplaceAddrPort(dv.getUint16(l4 + I_CHECKSUM), 0, 0, oldId, port));
      }
    }
  }
  dv.setUint32(h + aOff, addr);
  dv.setUint16(h + CHECK, csumReplaceAddrPort(dv.getUint16(h + CHECK), oldA, addr, 0, 0));
  return true;
}

/** A port-less manip (the address only, whatever the protocol): what an ICMP error's outer header gets. */
export function natManipAddr(dv: DataView, h: number, manip: number, addr: number): void {
  const aOff = manip === SRC ? SADDR : DADDR;
  const oldA = dv.getUint32(h + aOff);
  dv.setUint32(h + aOff, addr >>> 0);
  dv.setUint16(h + CHECK, csumReplaceAddrPort(dv.getUint16(h + CHECK), oldA, addr >>> 0, 0, 0));
}

/**
 * The inner half of nf_nat_icmp_reply_translation: the ICMP error of `len` bytes at p (from its
 * type on) quotes a datagram at p + 8; rewrite that datagram's `manip` end to addr/port
 * (natManip over the bytes quoted), then recompute the ICMP checksum over the whole message
 * (the quote changed in several places). Returns false, changing nothing, when the ICMP checksum
 * was wrong to begin with (nf_ip_checksum: the kernel drops it) or the quote is too short.
 */
export function natManipIcmpInner(dv: DataView, p: number, len: number, manip: number, addr: number, port: number): boolean {
  if (len < I_HLEN + HLEN) return false;
  if (csumFinish(csumPartial(dv, p, len, 0)) !== 0) return false;
  if (!natManip(dv, p + I_HLEN, len - I_HLEN, manip, addr, port)) return false;
  dv.setUint16(p + I_CHECKSUM, 0);
  dv.setUint16(p + I_CHECKSUM, csumFinish(csumPartial(dv, p, len, 0)));
  return true;
}
