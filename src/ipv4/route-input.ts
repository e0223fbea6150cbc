import { RTN_BLACKHOLE, RTN_BROADCAST, RTN_LOCAL, RTN_PROHIBIT, RTN_UNICAST, RTN_UNREACHABLE } from './fib/types.ts';
import type { Batch } from '../core/batch.ts';
import { RTCF_BROADCAST, RTCF_LOCAL, RTCF_MULTICAST, type Ipv4Ctx } from './ctx.ts';
import { IP, RT } from './mib.ts';
import { ICMP_HOST_UNREACH, ICMP_NET_UNREACH, ICMP_PKT_FILTERED } from '../wire/icmp.ts';

/** Outcomes of ip_route_input (what ip-rcv does next). */
export const ROUTE_LOCAL = 0;
export const ROUTE_FORWARD = 1;
/**
 * Drop silently (blackhole, forwarding off, martians): MIB counted by routeInput already; the
 * DROP_* sub-reason is in bits 8..15 so the stage can name the drop.
 */
export const ROUTE_DROP = 2;
export const DROP_INVALID_SOURCE = 0;
export const DROP_INVALID_DEST = 1;
export const DROP_NOT_FORWARDING = 2;
export const DROP_BLACKHOLE = 3;
/** Graph drop reason names, indexed by DROP_* (kernel skb drop reason names). */
export const ROUTE_DROP_REASONS = ['ip.invalid_source', 'ip.invalid_dest', 'ip.InAddrErrors', 'ip.blackhole'] as const;
/** Answer with ICMP destination unreachable; the ICMP code is in bits 8..15 (ROUTE_ICMP | code << 8). */
export const ROUTE_ICMP = 3;

/**
 * ip_route_input_slow, the decision after PREROUTING, every case in the kernel's order: local
 * (our address, limited broadcast, directed broadcast to our subnets) / forward / drop /
 * unreachable. ip-rcv decides the common local and forward cases inline and calls this for
 * the rest. Sets b.aux = RTCF flags for local packets, and b.oif/b.nh for forwarded ones.
 * Returns ROUTE_* in the low byte and, for ROUTE_ICMP, the ICMP code in bits 8..15. Counters
 * follow the kernel: martians go to rt_cache (in_martian_src/dst), no route to InNoRoutes,
 * forwarding disabled to InAddrErrors.
 */
export function routeInput(ctx: Ipv4Ctx, b: Batch, i: number, saddr: number, daddr: number): number {
  // Limited broadcast first: DHCP clients send from 0.0.0.0.
  if (daddr === 0xffffffff) {
    if (martianSource(saddr) && saddr !== 0) return martianSrc(ctx);
    b.aux[i] = RTCF_LOCAL | RTCF_BROADCAST;
    ctx.mib.rt.v[RT.in_brd]++;
    return ROUTE_LOCAL;
  }
  // A source that is one of our own addresses is a martian too (fib_validate_source).
  if (martianSource(saddr) || ctx.isLocal(saddr)) return martianSrc(ctx);
  const dtop = daddr >>> 24;
  if (dtop === 0 || dtop === 127) {
    ctx.mib.rt.v[RT.in_martian_dst]++;
    ctx.mib.ip.v[IP.InAddrErrors]++;
    return ROUTE_DROP | (DROP_INVALID_DEST << 8);
  }
  if (dtop >= 224) {
    // Multicast to a group the device joined (ip_check_mc_rcu): local delivery. Other groups and
    // class E: not for us, never forwarded (no multicast routing).
    if (dtop < 240) ctx.mib.ip.v[IP.InMcastPkts]++;
    if (dtop < 240 && ctx.mc.has(b.iif[i], daddr)) {
      b.aux[i] = RTCF_LOCAL | RTCF_MULTICAST;
      return ROUTE_LOCAL;
    }
    ctx.mib.ip.v[IP.InAddrErrors]++;
    return ROUTE_DROP | (DROP_INVALID_DEST << 8);
  }
  const fib = ctx.fib;
  const nh = fib.lookup(daddr);
  if (nh < 0) return noRoute(ctx);
  const type = fib.nhType[nh];
  if (type === RTN_LOCAL) {
    b.aux[i] = RTCF_LOCAL;
    return ROUTE_LOCAL;
  }
  if (type === RTN_BROADCAST) {
    b.aux[i] = RTCF_LOCAL | RTCF_BROADCAST;
    ctx.mib.rt.v[RT.in_brd]++;
    return ROUTE_LOCAL;
  }
  if (type === RTN_UNICAST) {
    if (ctx.sysctl.ip_forward === 0) {
      // Linux: -EHOSTUNREACH, counted by ip_error as InAddrErrors, no ICMP when not forwarding.
      ctx.mib.ip.v[IP.InAddrErrors]++;
      return ROUTE_DROP | (DROP_NOT_FORWARDING << 8);
    }
    const oif = fib.nhOif[nh];
    if (oif < 0) return noRoute(ctx);
    const gw = fib.nhGateway[nh];
    b.oif[i] = oif;
    b.nh[i] = gw === 0 ? daddr : gw;
    b.aux[i] = 0;
    return ROUTE_FORWARD;
  }
  return errorRoute(ctx, type);
}

/** 0/8, loopback, multicast, class E and broadcast sources are martians. */
function martianSource(s: number): boolean {
  const top = s >>> 24;
  return top === 0 || top === 127 || top >= 224;
}

function martianSrc(ctx: Ipv4Ctx): number {
  ctx.mib.rt.v[RT.in_martian_src]++;
  ctx.mib.ip.v[IP.InAddrErrors]++;
  return ROUTE_DROP | (DROP_INVALID_SOURCE << 8);
}

function noRoute(ctx: Ipv4Ctx): number {
  ctx.mib.rt.v[RT.in_no_route]++;
  if (ctx.sysctl.ip_forward === 0) {
    ctx.mib.ip.v[IP.InAddrErrors]++;
    return ROUTE_DROP | (DROP_NOT_FORWARDING << 8);
  }
  ctx.mib.ip.v[IP.InNoRoutes]++;
  return ROUTE_ICMP | (ICMP_NET_UNREACH << 8);
}

/** fib_props errors: unreachable -EHOSTUNREACH, prohibit -EACCES, blackhole -EINVAL (silent). */
function errorRoute(ctx: Ipv4Ctx, type: number): number {
  if (type === RTN_UNREACHABLE) {
    if (ctx.sysctl.ip_forward === 0) {
      ctx.mib.ip.v[IP.InAddrErrors]++;
      return ROUTE_DROP | (DROP_NOT_FORWARDING << 8);
    }
    return ROUTE_ICMP | (ICMP_HOST_UNREACH << 8);
  }
  if (type === RTN_PROHIBIT) {
    if (ctx.sysctl.ip_forward === 0) return ROUTE_DROP | (DROP_NOT_FORWARDING << 8);
    return ROUTE_ICMP | (ICMP_PKT_FILTERED << 8);
  }
  if (type === RTN_BLACKHOLE) return ROUTE_DROP | (DROP_BLACKHOLE << 8);
  ctx.mib.ip.v[IP.InAddrErrors]++;
  return ROUTE_DROP | (DROP_INVALID_DEST << 8);
}
