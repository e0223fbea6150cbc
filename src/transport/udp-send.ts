import { csumFinish, csumPartial, pseudoHdrSum } from '../wire/checksum.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as udp from '../wire/udp.ts';
import { IP } from '../ipv4/mib.ts';
import * as localOut from './local-out.ts';
import type { OutRoute } from './local-out.ts';
import * as mib from './udp-mib.ts';
import type { UdpState } from './udp-state.ts';
// Per datagram (sendBatch calls udpSendmsg for each): imported bindings as module-local consts
// (src/wire/README.md, "On the hot path").
const { IP_DF, IP_MF, IPPROTO_UDP, IPV4_HLEN, writeIpv4Header } = ipv4;
const { UDP_CHECK, UDP_HLEN, writeUdpHeader } = udp;
const { LL_RESERVE } = localOut;
const { UDP } = mib;

/** Largest UDP payload over IPv4: 65535 - 20 - 8. */
export const UDP_MAX_PAYLOAD = 65507;

/**
 * udp_sendmsg + ip_make_skb for one datagram: `len` bytes of src from `off`, from r.saddr:sport
 * to r.daddr:dport (r from LocalOut.routeOutput), checksummed, into the ip-local-out ring.
 *
 * A datagram that fits the route's MTU leaves with DF set (IP_PMTUDISC_WANT, Linux's default).
 * One larger than the MTU but within a frame leaves without DF, and ip-output's ip_fragment
 * splits it. One larger than a frame (up to 64 KiB) is split here, as ip_append_data builds a
 * fragment list: each fragment in its own frame, the UDP checksum summed over all of them.
 *
 * Returns null (OutDatagrams counted) or the errno name: EMSGSIZE (over 65507 bytes), ENOBUFS
 * (no room in the ring or the pool: SndbufErrors). Allocates nothing for a datagram within a
 * frame when the whole of src is sent (off 0, len = src.length).
 */
export function udpSendmsg(st: UdpState, r: OutRoute, sport: number, dport: number, ttl: number, tos: number, src: Uint8Array, off: number, len: number): string | null {
  if (len > UDP_MAX_PAYLOAD) return 'EMSGSIZE';
  const out = st.out;
  const ipLen = IPV4_HLEN + UDP_HLEN + len;
  if (ipLen > out.maxIpLen) return sendFragments(st, r, sport, dport, ttl, tos, src, off, len);
  if (out.room() < 1) {
    st.counters.v[UDP.SndbufErrors]++;
    return 'ENOBUFS';
  }
  const a = out.alloc();
  const h = a + LL_RESERVE;
  const u = h + IPV4_HLEN;
  st.u8.set(off === 0 && len === src.length ? src : src.subarray(off, off + len), u + UDP_HLEN);
  writeUdpHeader(st.dv, u, sport, dport, UDP_HLEN + len, r.saddr, r.daddr, true);
  writeIpv4Header(st.dv, h, tos, ipLen, st.ipv4.ctx.nextIdent(), ipLen <= r.mtu ? IP_DF : 0, ttl, IPPROTO_UDP, r.saddr, r.daddr);
  out.push(a, LL_RESERVE + ipLen);
  st.counters.v[UDP.OutDatagrams]++;
  return null;
}

/** A datagram larger than a frame: fragments of up to min(MTU, frame) bytes, all or nothing. */
function sendFragments(st: UdpState, r: OutRoute, sport: number, dport: number, ttl: number, tos: number, src: Uint8Array, off: number, len: number): string | null {
  const out = st.out;
  const dv = st.dv;
  const u8 = st.u8;
  const mtu = r.mtu < out.maxIpLen ? r.mtu : out.maxIpLen;
  const per = (mtu - IPV4_HLEN) & ~7;
  const total = UDP_HLEN + len;
  const nfrags = Math.ceil(total / per);
  if (out.room() < nfrags) {
    st.counters.v[UDP.SndbufErrors]++;
    return 'ENOBUFS';
  }
  const id = st.ipv4.ctx.nextIdent();
  // Every fragment but the last carries a multiple of 8 bytes, so the partial sums add up.
  let sum = 0;
  let first = 0;
  for (let k = 0; k < nfrags; k++) {
    const a = out.alloc();
    const h = a + LL_RESERVE;
    const p = h + IPV4_HLEN;
    const at = k * per;
    const chunk = at + per < total ? per : total - at;
    if (k === 0) {
      first = p;
      writeUdpHeader(dv, p, sport, dport, total, r.saddr, r.daddr, false);
      u8.set(src.subarray(off, off + chunk - UDP_HLEN), p + UDP_HLEN);
    } else {
      const from = off + at - UDP_HLEN;
      u8.set(src.subarray(from, from + chunk), p);
    }
    sum += csumPartial(dv, p, chunk, 0);
    const last = k === nfrags - 1;
    writeIpv4Header(dv, h, tos, IPV4_HLEN + chunk, id, (last ? 0 : IP_MF) | (at >>> 3), ttl, IPPROTO_UDP, r.saddr, r.daddr);
    out.push(a, LL_RESERVE + IPV4_HLEN + chunk);
  }
  // The ring is dispatched later (a microtask or a flush): the first fragment can still be completed.
  const c = csumFinish(sum + pseudoHdrSum(r.saddr, r.daddr, IPPROTO_UDP, total));
  dv.setUint16(first + UDP_CHECK, c === 0 ? 0xffff : c);
  const ip = st.ipv4.mib.ip.v;
  ip[IP.FragOKs]++;
  ip[IP.FragCreates] += nfrags;
  st.counters.v[UDP.OutDatagrams]++;
  return null;
}
