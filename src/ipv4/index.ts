import type { Batch } from '../core/batch.ts';
import type { Graph } from '../core/graph.ts';
import type { NetDevices } from '../core/netdev.ts';
import { maskOf } from '../wire/addr.ts';
import { Conntrack, type ConntrackOptions } from './conntrack/conntrack.ts';
import { CONNTRACK_RO, conntrackSysctlKey, defaultBuckets, defaultConntrackSysctl, type ConntrackSysctl } from './conntrack/sysctl.ts';
import { DEFAULT_SYSCTL, Ipv4Ctx, type Ipv4Sysctl } from './ctx.ts';
import { Fib, RTN_BROADCAST, RTN_LOCAL, RTN_UNICAST } from './fib/fib.ts';
import { IcmpRcv } from './icmp-rcv.ts';
import { IcmpSender } from './icmp-send.ts';
import { IpDefrag } from './ip-defrag.ts';
import { IpForward } from './ip-forward.ts';
import { IpLocalDeliver } from './ip-local-deliver.ts';
import { IpOutput } from './ip-output.ts';
import { IpRcv } from './ip-rcv.ts';
import { Nat } from './nat/nat.ts';
import { Netfilter } from './netfilter/netfilter.ts';
import { NfHooks, type NetfilterLike } from './nf-hooks.ts';

export { DEFAULT_SYSCTL, Ipv4Ctx, RTCF_BROADCAST, RTCF_LOCAL, RTCF_MULTICAST, type Ipv4Sysctl } from './ctx.ts';
export { NF_ACCEPT, NF_DROP, NF_REJECT, REJECT_TCP_RESET, type NetfilterLike } from './nf-hooks.ts';

/** What registerIpv4 needs from the ptype table (core/ptype.ts PtypeTable). */
export interface PtypeLike {
  add(ethertype: number, stageName: string): void;
}

export interface Ipv4Options {
  fib?: Fib;
  sysctl?: Partial<Ipv4Sysctl>;
  /** netfilter/netfilter.ts's Netfilter (or a stand-in); every hook is consulted until refreshHooks(). */
  netfilter?: NetfilterLike;
  /** Millisecond clock (tests). */
  now?: () => number;
  /** Connection tracking's table size, clock and expiry wheel (made when first needed). */
  conntrack?: ConntrackOptions;
}

/**
 * The IPv4 layer of one worker (inet_init): its stages, FIB, MIB, sysctls, netfilter binding.
 * Stages: ip-rcv, ip-local-deliver, icmp-rcv, ip-forward, ip-output. Needs `neigh-output`
 * in the graph before it is sealed.
 */
export class Ipv4 {
  readonly ctx: Ipv4Ctx;
  readonly icmp: IcmpSender;
  readonly nf: NfHooks;
  readonly defrag: IpDefrag;
  readonly ipRcv: IpRcv;
  readonly localDeliver: IpLocalDeliver;
  readonly icmpRcv: IcmpRcv;
  readonly forward: IpForward;
  readonly output: IpOutput;
  /** net.netfilter.nf_conntrack_* (kept here so they can be set before conntrack exists). */
  readonly ctSysctl: ConntrackSysctl;
  private ct: Conntrack | null = null;
  private natCore: Nat | null = null;
  private readonly ctOpts: ConntrackOptions;

  constructor(g: Graph, devs: NetDevices, opts: Ipv4Options = {}) {
    this.ctx = new Ipv4Ctx(g.pool, devs, opts.fib ?? new Fib(), opts.sysctl);
    if (opts.now !== undefined) this.ctx.now = opts.now;
    this.icmp = new IcmpSender(this.ctx);
    this.nf = new NfHooks(this.ctx, this.icmp);
    this.ctOpts = opts.conntrack ?? {};
    this.ctSysctl = this.ctOpts.sysctl ?? defaultConntrackSysctl(this.ctOpts.buckets ?? defaultBuckets());
    this.nf.conntrack = () => this.conntrack;
    if (opts.netfilter !== undefined) this.nf.attach(opts.netfilter);
    this.defrag = new IpDefrag(this.ctx);
    this.defrag.icmp = this.icmp;
    this.ipRcv = new IpRcv(this.ctx, this.nf, this.icmp);
    this.localDeliver = new IpLocalDeliver(this.ctx, this.nf, this.icmp, this.defrag);
    this.icmpRcv = new IcmpRcv(this.ctx);
    this.forward = new IpForward(this.ctx, this.nf, this.icmp);
    this.output = new IpOutput(this.ctx, this.nf);
  }

  /**
   * Connection tracking (nf_conntrack): made the first time something needs it (its table's
   * buckets are allocated then); it tracks packets while refreshHooks() finds a rule that needs it
   * or nf_conntrack_enable is 1.
   */
  get conntrack(): Conntrack {
    return (this.ct ??= new Conntrack({ ...this.ctOpts, buckets: this.ctOpts.buckets ?? defaultBuckets(), sysctl: this.ctSysctl }));
  }

  /** The Conntrack if it was ever needed, else null (a dump of a table never made is empty). */
  conntrackIfMade(): Conntrack | null {
    return this.ct;
  }

  /** Is connection tracking looking at packets now? */
  get tracking(): boolean {
    return this.nf.ct !== null;
  }

  /** Read, or set then read, a net.netfilter.nf_conntrack_* sysctl; null when the name is not one. */
  conntrackSysctl(name: string, value?: number | string): number | null {
    const k = conntrackSysctlKey(name);
    if (k === null) return null;
    if (k === 'nf_conntrack_count') {
      if (value !== undefined) throw new Error('sysctl: net.netfilter.nf_conntrack_count is read-only');
      return this.ct?.table.count ?? 0;
    }
    if (k === 'nf_conntrack_buckets') {
      if (value !== undefined) throw new Error('sysctl: net.netfilter.nf_conntrack_buckets is read-only here (set before start: conntrack options)');
      return this.ct?.table.buckets ?? this.ctOpts.buckets ?? defaultBuckets();
    }
    const key = k as Exclude<keyof ConntrackSysctl, (typeof CONNTRACK_RO)[number]>;
    if (value !== undefined) {
      const v = typeof value === 'number' ? value : Number(value);
      if (!Number.isInteger(v) || v < 0) throw new Error(`sysctl: net.netfilter.${k} wants a non-negative integer, got "${value}"`);
      this.ctSysctl[key] = v;
      this.ct?.reload();
      if (key === 'nf_conntrack_enable') {
        this.nf.ctAlways = v !== 0;
        this.nf.refresh();
      }
    }
    return this.ctSysctl[key];
  }

  get fib(): Fib {
    return this.ctx.fib;
  }

  get mib() {
    return this.ctx.mib;
  }

  get sysctl(): Ipv4Sysctl {
    return this.ctx.sysctl;
  }

  /** inet_add_protocol: deliver IP protocol `proto` (6, 17...) to the stage named stageName. */
  inet_add_protocol(proto: number, stageName: string): void {
    this.localDeliver.addProtocol(proto, stageName);
  }

  inet_del_protocol(proto: number): boolean {
    return this.localDeliver.delProtocol(proto);
  }

  /**
   * icmp_send for other layers (e.g. UDP port unreachable): turns packet i (IP header at b.l3,
   * b.len = end of datagram) into the ICMP error in place. true: enqueue i to `ip-output`;
   * false: not allowed or rate limited, drop i. `info` is the 32-bit word after the checksum.
   */
  icmp_send(b: Batch, i: number, type: number, code: number, info = 0): boolean {
    return this.icmp.send(b, i, type, code, info);
  }

  /** Source address for a packet to daddr (the route's preferred source, else its device's). 0 = no route. */
  sourceFor(daddr: number): number {
    const fib = this.ctx.fib;
    const nh = fib.lookup(daddr >>> 0);
    if (nh < 0) return 0;
    const src = fib.nhSrc[nh];
    if (src !== 0) return src >>> 0;
    const oif = fib.nhOif[nh];
    return oif < 0 ? 0 : this.ctx.devAddr(oif);
  }

  /** `ip addr add ADDR/LEN dev DEV`: records the address on the device and adds its routes. */
  addAddress(devIndex: number, addr: number, len: number): void {
    const dev = this.ctx.devs.list[devIndex];
    if (dev === undefined) throw new Error(`ipv4: no device with index ${devIndex}`);
    addDeviceAddress(this.ctx.fib, devIndex, addr, len);
    if (!dev.addrs.some((x) => x.addr === addr >>> 0 && x.prefixLen === len)) dev.addrs.push({ addr: addr >>> 0, prefixLen: len });
    this.ctx.refreshLocal();
  }

  /** Call after changing NetDevice.addrs directly (not through addAddress): source validation reads them. */
  addressesChanged(): void {
    this.ctx.refreshLocal();
  }

  /** Attach or replace netfilter (null detaches). Every hook is consulted until refreshHooks(). */
  setNetfilter(nf: NetfilterLike | null): void {
    const old = this.nf.nf;
    if (this.natCore !== null && old !== nf && old instanceof Netfilter) {
      old.attachNat(null);
      this.natCore = null;
    }
    this.nf.attach(nf);
  }

  /**
   * Skip the hooks that have no rules and an ACCEPT policy (saves ~10 ns/packet each). Once
   * called, call it again after EVERY rule/policy change, or new rules in an empty hook are ignored.
   */
  refreshHooks(): void {
    // The NAT core comes with connection tracking (natLoaded makes needsConntrack true): made
    // before refresh() asks the hooks, which then count the nat table's place.
    const nf = this.nf.nf;
    if (this.natCore === null && nf instanceof Netfilter && nf.needsConntrack()) {
      this.natCore = new Nat(this.ctx, this.conntrack, nf);
      nf.attachNat(this.natCore);
    }
    this.nf.refresh();
  }

  /** The NAT core once a rule made connection tracking necessary, else null (its counters: Nat.stats). */
  get nat(): Nat | null {
    return this.natCore;
  }

  /** Set a sysctl by its /proc/sys/net/ipv4 name (ip_forward, icmp_ratelimit, ...). */
  setSysctl(name: string, value: number | string): void {
    const key = name.replace(/^net\.ipv4\./, '') as keyof Ipv4Sysctl;
    if (!(key in DEFAULT_SYSCTL)) {
      throw new Error(`sysctl: unknown IPv4 setting "${name}" (known: ${Object.keys(DEFAULT_SYSCTL).join(', ')})`);
    }
    const v = typeof value === 'number' ? value : Number(value);
    if (!Number.isFinite(v) || v < 0 || !Number.isInteger(v)) throw new Error(`sysctl: ${name} wants a non-negative integer, got "${value}"`);
    if (key === 'ip_default_ttl' && (v < 1 || v > 255)) throw new Error(`sysctl: ip_default_ttl must be 1..255, got ${v}`);
    this.ctx.sysctl[key] = v;
  }

  /** Reassembly timeouts: call about once a second (queues are also checked on each fragment). */
  expire(): void {
    this.defrag.expire();
  }

  /** Frames held by IPv4 (reassembly queues), for frame accounting. */
  held(): number {
    return this.defrag.held();
  }

  /** Release held frames (shutdown); conntrack's expiry timer stops. */
  close(): void {
    this.defrag.clear();
    this.ct?.wheel.stop();
  }
}

/**
 * inet_init: add the IPv4 stages to g and register EtherType 0x0800 -> ip-rcv. The graph must
 * also hold `neigh-output` (L2) before it is sealed.
 */
export function registerIpv4(g: Graph, devs: NetDevices, ptype: PtypeLike, opts: Ipv4Options = {}): Ipv4 {
  const ip = new Ipv4(g, devs, opts);
  g.add(ip.ipRcv);
  g.add(ip.localDeliver);
  g.add(ip.icmpRcv);
  g.add(ip.forward);
  g.add(ip.output);
  ptype.add(0x0800, 'ip-rcv');
  return ip;
}

/**
 * fib_add_ifaddr: the routes an address brings: local /32 (RTN_LOCAL), the connected subnet
 * (unicast, on-link) and the directed broadcast /32 (RTN_BROADCAST; not for /31 and /32).
 */
export function addDeviceAddress(fib: Fib, devIndex: number, addr: number, len: number): void {
  if (!Number.isInteger(len) || len < 0 || len > 32) throw new Error(`ipv4: prefix length ${len} is not in 0..32`);
  addr >>>= 0;
  fib.replace({ prefix: addr, len: 32, type: RTN_LOCAL, gateway: 0, oif: devIndex, metric: 0, proto: 'kernel' });
  if (len < 32) {
    const mask = maskOf(len);
    const prefix = (addr & mask) >>> 0;
    const have = fib.list().some((r) => r.prefix === prefix && r.len === len && r.metric === 0);
    if (!have) fib.add({ prefix, len, type: RTN_UNICAST, gateway: 0, oif: devIndex, metric: 0, proto: 'kernel', src: addr });
    if (len < 31) fib.replace({ prefix: (prefix | ~mask) >>> 0, len: 32, type: RTN_BROADCAST, gateway: 0, oif: devIndex, metric: 0, proto: 'kernel' });
  }
}
