// The filter scenario's XDP-style filter: 10 rules checked in order, like a short firewall. None
// matches the benchmark traffic (UDP 10.1.0.2:1024 -> 10.2.0.2:9), so every packet pays for all 10.
import { TCP_SYN, XDP_DROP, XDP_PASS, type XdpContext } from '../core/xdp-helpers.ts';

const ip = (a: number, b: number, c: number, d: number) => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
const NET_TEST1 = ip(192, 0, 2, 0); // /24
const NET_TEST2 = ip(198, 51, 100, 0); // /24
const NET_TEST3 = ip(203, 0, 113, 0); // /24
const MASK24 = 0xffffff00;

export default function filter10(ctx: XdpContext): number {
  const proto = ctx.ipProto();
  if (proto < 0) return XDP_PASS; // not IPv4: the stack decides
  const src = ctx.ipSrc() >>> 0;
  const dst = ctx.ipDst() >>> 0;
  if ((src & MASK24) === NET_TEST1) return XDP_DROP; // 1 bogon source
  if ((src & MASK24) === NET_TEST2) return XDP_DROP; // 2
  if ((dst & MASK24) === NET_TEST3) return XDP_DROP; // 3 bogon destination
  if (proto === 47) return XDP_DROP; // 4 GRE
  if (ctx.ipTtl() === 0) return XDP_DROP; // 5
  const dport = ctx.l4Dport();
  if (proto === 17) {
    if (dport === 19) return XDP_DROP; // 6 chargen
    if (dport === 1900) return XDP_DROP; // 7 SSDP
    if (dport === 11211) return XDP_DROP; // 8 memcached
    if (ctx.l4Sport() === 123 && dport === 123) return XDP_DROP; // 9 NTP reflection
  } else if (proto === 6) {
    if (dport === 23 && (ctx.tcpFlags() & TCP_SYN) !== 0) return XDP_DROP; // 10 telnet SYN
  }
  return XDP_PASS;
}
