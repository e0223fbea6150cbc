/** Route types and the Route record shared by fib.ts and route-parse.ts (kept apart to avoid an import cycle). */

// Kernel route types (include/uapi/linux/rtnetlink.h).
export const RTN_UNICAST = 1;
export const RTN_LOCAL = 2;
export const RTN_BROADCAST = 3;
export const RTN_BLACKHOLE = 6;
export const RTN_UNREACHABLE = 7;
export const RTN_PROHIBIT = 8;

export const RTN_NAMES: Record<number, string> = {
  [RTN_UNICAST]: 'unicast',
  [RTN_LOCAL]: 'local',
  [RTN_BROADCAST]: 'broadcast',
  [RTN_BLACKHOLE]: 'blackhole',
  [RTN_UNREACHABLE]: 'unreachable',
  [RTN_PROHIBIT]: 'prohibit',
};

export interface Route {
  prefix: number;
  len: number;
  type: number;
  /** Next-hop router, host order; 0 = on-link (destination is the next hop). */
  gateway: number;
  /** Egress device index; -1 = resolve through the connected route covering the gateway. */
  oif: number;
  metric: number;
  proto: 'kernel' | 'static';
  /** Preferred source address for locally generated packets. */
  src?: number;
  /**
   * Read-only, set by the FIB: the route's device has no link (down, no carrier, deleted), so
   * lookups skip it (RTNH_F_DEAD|RTNH_F_LINKDOWN; `ip route` prints "linkdown").
   */
  linkdown?: boolean;
}

