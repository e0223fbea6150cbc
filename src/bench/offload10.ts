// The offload scenario's filter: filter10.ts's 10 rules in the compiled subset (constants as
// literals), with rule 10 a blocked UDP source-port range that the bench flood (xsk_fwd gen -F 10:
// source ports 1024..1033, round robin) hits 9 times in 10. Every frame is checked against all
// 10 rules; 90% are dropped, 10% pass. bench/c/offload10.c is the same rules in C.
import { TCP_SYN, XDP_DROP, XDP_PASS, type XdpContext } from 'softnet/xdp';

const NET_TEST1 = 0xc0000200; // 192.0.2.0/24
const NET_TEST2 = 0xc6336400; // 198.51.100.0/24
const NET_TEST3 = 0xcb007100; // 203.0.113.0/24
const MASK24 = 0xffffff00;

export default (ctx: XdpContext): number => {
  const proto = ctx.ipProto();
  if (proto < 0) return XDP_PASS; // not IPv4: the stack decides
  const src = ctx.ipSrc();
  const dst = ctx.ipDst();
  if ((src & MASK24) >>> 0 === NET_TEST1) return XDP_DROP; // 1 bogon source
  if ((src & MASK24) >>> 0 === NET_TEST2) return XDP_DROP; // 2
  if ((dst & MASK24) >>> 0 === NET_TEST3) return XDP_DROP; // 3 bogon destination
  if (proto === 47) return XDP_DROP; // 4 GRE
  if (ctx.ipTtl() === 0) return XDP_DROP; // 5
  const dport = ctx.l4Dport();
  if (proto === 17) {
    if (dport === 19) return XDP_DROP; // 6 chargen
    if (dport === 1900) return XDP_DROP; // 7 SSDP
    if (dport === 11211) return XDP_DROP; // 8 memcached
    const sport = ctx.l4Sport();
    if (sport === 123 && dport === 123) return XDP_DROP; // 9 NTP reflection
    if (sport >= 1025 && sport <= 1033) return XDP_DROP; // 10 a blocked source port range
  } else if (proto === 6) {
    if (dport === 23 && (ctx.tcpFlags() & TCP_SYN) !== 0) return XDP_DROP; // 10' telnet SYN
  }
  return XDP_PASS;
};
