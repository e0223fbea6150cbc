import type { NetDevices } from '../core/netdev.ts';
import type { FramePool } from '../driver/pool.ts';
import type { Fib } from './fib/fib.ts';
import { McList } from './igmp.ts';
import { Ipv4Mib } from './mib.ts';

/** net.ipv4.* sysctls the IPv4 stages read (names as in /proc/sys/net/ipv4). */
export interface Ipv4Sysctl {
  /** Forward packets not addressed to us. Linux defaults to 0; softnet is a router, so 1. */
  ip_forward: number;
  ip_default_ttl: number;
  /** Minimum ms between ICMP errors to one destination (token bucket, burst 6); 0 = no limit. */
  icmp_ratelimit: number;
  /** Global ICMP error budget per second (icmp_global_allow) and its burst. */
  icmp_msgs_per_sec: number;
  icmp_msgs_burst: number;
  icmp_echo_ignore_all: number;
  icmp_echo_ignore_broadcasts: number;
  /** Bytes of frames the reassembly queues may hold (frames counted at their full size). */
  ipfrag_high_thresh: number;
  /** Seconds a reassembly queue lives. */
  ipfrag_time: number;
  /** softnet: at most this many reassembly queues (Linux bounds them by memory only). */
  ipfrag_max_queues: number;
}

export const DEFAULT_SYSCTL: Ipv4Sysctl = {
  ip_forward: 1,
  ip_default_ttl: 64,
  icmp_ratelimit: 1000,
  icmp_msgs_per_sec: 1000,
  icmp_msgs_burst: 50,
  icmp_echo_ignore_all: 0,
  icmp_echo_ignore_broadcasts: 1,
  // Linux allows 4 MiB; here frames come from a 4096-frame pool shared with RX, so keep 256 KiB.
  ipfrag_high_thresh: 256 * 1024,
  ipfrag_time: 30,
  ipfrag_max_queues: 64,
};

/** Route flags the receive path leaves in Batch.aux for local delivery (RTCF_* of the kernel). */
export const RTCF_LOCAL = 1;
export const RTCF_BROADCAST = 2;
export const RTCF_MULTICAST = 4;

/**
 * State shared by the IPv4 stages of one worker: the UMEM views, devices, FIB, MIBs, sysctls, the
 * IP id counter and a clock. One object, read once per batch by each stage.
 */
export class Ipv4Ctx {
  u8: Uint8Array;
  dv: DataView;
  /** Bytes usable in a frame from its data address (frame size - headroom). */
  frameRoom: number;
  readonly mib = new Ipv4Mib();
  /** Multicast groups joined per device (sockets' IP_ADD_MEMBERSHIP). */
  readonly mc = new McList();
  readonly sysctl: Ipv4Sysctl;
  /** IP identification for locally built headers (ip_select_ident without the hash). */
  ident = 1;
  /** Milliseconds, monotonic; replaceable by tests. */
  now: () => number = () => performance.now();

  constructor(
    readonly pool: FramePool,
    readonly devs: NetDevices,
    public fib: Fib,
    sysctl: Partial<Ipv4Sysctl> = {},
  ) {
    this.u8 = pool.umem.u8;
    this.dv = pool.umem.dv;
    this.frameRoom = pool.umem.frameSize - pool.umem.headroom;
    this.sysctl = { ...DEFAULT_SYSCTL, ...sysctl };
  }

  /**
   * Our addresses as an open-addressing set (0 = empty slot): fib_validate_source's "a packet
   * from one of our own addresses is a martian" in two loads. Rebuilt by refreshLocal().
   */
  private localSet = new Uint32Array(64);
  private localMask = 63;

  /** Re-read every device's addresses (after an address is added or removed). */
  refreshLocal(): void {
    const all: number[] = [];
    for (const d of this.devs.list) for (const a of d.addrs) if (a.addr !== 0) all.push(a.addr >>> 0);
    let size = 64;
    while (size < all.length * 4) size *= 2;
    const set = new Uint32Array(size);
    for (const a of all) {
      let k = hashAddr(a) & (size - 1);
      while (set[k] !== 0 && set[k] !== a) k = (k + 1) & (size - 1);
      set[k] = a;
    }
    this.localSet = set;
    this.localMask = size - 1;
  }

  /** Is `a` one of our addresses? */
  isLocal(a: number): boolean {
    const set = this.localSet;
    const mask = this.localMask;
    let k = hashAddr(a) & mask;
    for (;;) {
      const x = set[k];
      if (x === 0) return false;
      if (x === a) return true;
      k = (k + 1) & mask;
    }
  }

  nextIdent(): number {
    const id = this.ident;
    this.ident = (id + 1) & 0xffff;
    return id;
  }

  /** Primary address of a device (or of any device when it has none), 0 when the stack has none. */
  devAddr(dev: number): number {
    const d = this.devs.list[dev];
    if (d !== undefined && d.addrs.length > 0) return d.addrs[0].addr >>> 0;
    for (const x of this.devs.list) if (x.addrs.length > 0) return x.addrs[0].addr >>> 0;
    return 0;
  }
}

function hashAddr(a: number): number {
  return Math.imul(a, 0x9e3779b1) >>> 16;
}
