import type { Graph } from '../core/graph.ts';
import type { NetDevice, NetDevices } from '../core/netdev.ts';
import { ARP_FRAME_LEN, ARPOP_REQUEST, buildArp } from '../wire/arp.ts';
import { Counters } from '../core/counters.ts';
import { ETH_HLEN, ETH_P_IP, formatIp, macHi, macLo, macPairToString, writeEthHeader } from './eth.ts';
import { Originate } from './originate.ts';

// NUD states, with the kernel's values (include/uapi/linux/neighbour.h) so dumps read the same.
export const NUD_NONE = 0x00;
export const NUD_INCOMPLETE = 0x01;
export const NUD_REACHABLE = 0x02;
export const NUD_STALE = 0x04;
export const NUD_DELAY = 0x08;
export const NUD_PROBE = 0x10;
export const NUD_FAILED = 0x20;
export const NUD_NOARP = 0x40;
export const NUD_PERMANENT = 0x80;
/** States whose lladdr may be used to send. */
export const NUD_VALID = NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY;

const STATE_NAMES: Record<number, string> = {
  [NUD_INCOMPLETE]: 'INCOMPLETE',
  [NUD_REACHABLE]: 'REACHABLE',
  [NUD_STALE]: 'STALE',
  [NUD_DELAY]: 'DELAY',
  [NUD_PROBE]: 'PROBE',
  [NUD_FAILED]: 'FAILED',
  [NUD_NOARP]: 'NOARP',
  [NUD_PERMANENT]: 'PERMANENT',
};

/** Called for each packet dropped because its next hop did not resolve (arp_error_report). */
export type ResolutionFailedHook = (dev: number, ip: number, u8: Uint8Array, addr: number, len: number) => void;

/** Tunables, named after the net.ipv4.neigh.* sysctls. Times in ms. */
export interface NeighOptions {
  /** Most entries (gc_thresh3): never more, a new entry past it needs a forced GC. Default 1024. */
  capacity?: number;
  /** gc_thresh2: past it, a new entry runs a forced GC if none ran for 5 s; forced GC shrinks to it. Default min(512, capacity / 2). */
  gcThresh2?: number;
  /** gc_thresh1: below it the periodic GC removes nothing. Default min(128, capacity / 8). */
  gcThresh1?: number;
  /**
   * softnet: frames all pending queues together may hold (Linux bounds them by memory only; here
   * they come from the UMEM pool the NIC rings refill from). Default pool frames / 8.
   */
  unresQlenTotal?: number;
  /** Packets queued per unresolved entry (unres_qlen). Default 3. */
  queueLen?: number;
  /** base_reachable_time: REACHABLE lasts a random time in [0.5, 1.5) of it. Default 30000. */
  baseReachableMs?: number;
  /** retrans_time: interval between ARP requests for one entry. Default 1000. */
  retransMs?: number;
  /** mcast_solicit: broadcast requests before INCOMPLETE fails. Default 3. */
  mcastSolicit?: number;
  /** ucast_solicit: unicast probes before PROBE fails. Default 3. */
  ucastSolicit?: number;
  /** delay_first_probe_time: DELAY lasts this long before probing. Default 5000. */
  delayProbeMs?: number;
  /** gc_stale_time: unused STALE/FAILED/NOARP entries are removed after this. Default 60000. */
  gcStaleMs?: number;
  /**
   * locktime: an ARP changing a known lladdr is ignored this soon after the entry was updated; a
   * gratuitous ARP may override that, but not sooner than this after the lladdr last changed.
   * Default 1000.
   */
  locktimeMs?: number;
  /**
   * arp_accept: 0 (default) gratuitous ARP and unsolicited replies only update existing entries;
   * 1 they may create one; 2 only when the sender is on the receiving device's subnet.
   */
  arpAccept?: number;
  /** Monotonic milliseconds. Default performance.now. */
  clock?: () => number;
  /** [0, 1) random source for reachable time and the hash seed. Default Math.random. */
  random?: () => number;
  onResolutionFailed?: ResolutionFailedHook;
}

export interface NeighEntry {
  ip: string;
  dev: string;
  lladdr: string | null;
  state: string;
  /** Packets waiting on resolution. */
  queued: number;
  probes: number;
}

/**
 * The neighbour table (net/core/neighbour.c + arp.c's constructor): (device, IPv4) -> MAC and
 * NUD state, a fixed-capacity open-addressing hash over entries kept in typed arrays. Entry ids
 * are stable for an entry's life; the hash (linear probing, backward-shift deletion) maps keys to
 * them. Time only moves through the clock; tick() runs the per-entry timers (retransmit, expiry,
 * garbage collection) and must be called regularly (startTimer() does, every 250 ms by default).
 */
export class NeighTable {
  readonly capacity: number;
  readonly queueLen: number;
  readonly clock: () => number;
  onResolutionFailed: ResolutionFailedHook | null;
  /** Non-drop statistics, /proc/net/stat/arp_cache style. */
  readonly stats = new Counters('neigh', [
    'allocs',
    'destroys',
    'res_failed',
    'forced_gc_runs',
    'periodic_gc_runs',
    'solicits',
    'ucast_probes',
    'solicit_nomem',
    'hook_errors',
    'table_fulls',
    'lladdr_changes',
    'locktime_ignored',
  ]);
  readonly gcThresh1: number;
  readonly gcThresh2: number;
  /** net.ipv4.conf.*.arp_accept (see NeighOptions). */
  arpAccept: number;
  /** Frames all pending queues may hold together (see NeighOptions.unresQlenTotal). */
  unresQlenTotal: number;
  private readonly unresOpt: number | undefined;
  /** Frames in all pending queues now. */
  private qTotal = 0;
  private lastFlush: number;
  private gcCursor = 0;

  // Entry columns.
  readonly ip: Uint32Array;
  readonly dev: Uint8Array;
  readonly state: Uint8Array;
  readonly hi: Uint32Array;
  readonly lo: Uint16Array;
  readonly probes: Uint8Array;
  readonly updated: Float64Array;
  readonly confirmed: Float64Array;
  readonly used: Float64Array;
  readonly timer: Float64Array;
  readonly reachable: Float64Array;
  /** When the lladdr last changed from one valid MAC to another (gratuitous ARP vs locktime). */
  readonly changed: Float64Array;
  // Pending queue: a ring of queueLen frames per entry (addr of the Ethernet header, length).
  private readonly qAddr: Uint32Array;
  private readonly qLen: Uint16Array;
  private readonly qHead: Uint8Array;
  readonly qCount: Uint8Array;
  // Free entry ids and the hash index (slot -> entry id + 1, 0 = empty).
  private readonly freeIds: Int32Array;
  private freeTop: number;
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly seed: number;
  private gcBlockedUntil = -Infinity;

  /** Device MACs as (hi, lo), refreshed when devices are added. */
  readonly devHi = new Uint32Array(256);
  readonly devLo = new Uint16Array(256);
  known = 0;

  private readonly o: Required<Omit<NeighOptions, 'onResolutionFailed' | 'clock' | 'random' | 'capacity' | 'queueLen' | 'gcThresh1' | 'gcThresh2' | 'unresQlenTotal' | 'arpAccept'>>;
  private readonly random: () => number;
  private g: Graph | null = null;
  private out: Originate | null = null;
  private rUnres = 0;
  private rFailed = 0;
  private rFull = 0;

  constructor(
    readonly devs: NetDevices,
    opts: NeighOptions = {},
  ) {
    const cap = opts.capacity ?? 1024;
    const ql = opts.queueLen ?? 3;
    if (!Number.isInteger(cap) || cap < 1 || cap > 1 << 20) throw new Error(`neigh: capacity ${cap} is not in 1..1048576`);
    if (!Number.isInteger(ql) || ql < 0 || ql > 255) throw new Error(`neigh: queueLen ${ql} is not in 0..255`);
    this.capacity = cap;
    this.queueLen = ql;
    this.gcThresh2 = Math.min(opts.gcThresh2 ?? 512, cap >> 1);
    this.gcThresh1 = Math.min(opts.gcThresh1 ?? 128, cap >> 3);
    if (!(this.gcThresh1 >= 0 && this.gcThresh1 <= this.gcThresh2 && this.gcThresh2 <= cap)) {
      throw new Error(`neigh: need 0 <= gcThresh1 (${this.gcThresh1}) <= gcThresh2 (${this.gcThresh2}) <= capacity (${cap})`);
    }
    this.unresOpt = opts.unresQlenTotal;
    this.arpAccept = opts.arpAccept ?? 0;
    if (![0, 1, 2].includes(this.arpAccept)) throw new Error(`neigh: arpAccept ${this.arpAccept} is not 0, 1 or 2`);
    this.unresQlenTotal = opts.unresQlenTotal ?? cap * ql;
    this.clock = opts.clock ?? (() => performance.now());
    this.random = opts.random ?? Math.random;
    this.onResolutionFailed = opts.onResolutionFailed ?? null;
    this.o = {
      baseReachableMs: opts.baseReachableMs ?? 30_000,
      retransMs: opts.retransMs ?? 1000,
      mcastSolicit: opts.mcastSolicit ?? 3,
      ucastSolicit: opts.ucastSolicit ?? 3,
      delayProbeMs: opts.delayProbeMs ?? 5000,
      gcStaleMs: opts.gcStaleMs ?? 60_000,
      locktimeMs: opts.locktimeMs ?? 1000,
    };
    this.ip = new Uint32Array(cap);
    this.dev = new Uint8Array(cap);
    this.state = new Uint8Array(cap);
    this.hi = new Uint32Array(cap);
    this.lo = new Uint16Array(cap);
    this.probes = new Uint8Array(cap);
    this.updated = new Float64Array(cap);
    this.confirmed = new Float64Array(cap);
    this.used = new Float64Array(cap);
    this.timer = new Float64Array(cap);
    this.reachable = new Float64Array(cap);
    this.changed = new Float64Array(cap);
    this.qAddr = new Uint32Array(cap * ql);
    this.qLen = new Uint16Array(cap * ql);
    this.qHead = new Uint8Array(cap);
    this.qCount = new Uint8Array(cap);
    this.freeIds = new Int32Array(cap);
    for (let k = 0; k < cap; k++) this.freeIds[k] = cap - 1 - k;
    this.freeTop = cap;
    // At most half full: probe sequences stay short.
    let size = 2;
    while (size < cap * 2) size <<= 1;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    // A random seed so that remote hosts cannot choose addresses that collide (hash flooding).
    this.seed = (this.random() * 0x100000000) >>> 0;
    this.refreshDevs();
    this.lastFlush = this.clock();
  }

  /** Entries in use. */
  get size(): number {
    return this.capacity - this.freeTop;
  }

  /** Connect to the graph whose pool frames come from and whose drop counters count (setup). */
  attach(g: Graph): void {
    if (this.g === g) return;
    this.g = g;
    this.out = new Originate(g, 'dev-xmit');
    this.rUnres = g.reason('neigh.unres_discards');
    this.rFailed = g.reason('neigh.resolution_failed');
    this.rFull = g.reason('neigh.table_fulls');
    // Pending frames come from the pool the NIC fill rings draw on: a flood of unresolvable
    // next hops must not starve receive (1024 entries x 3 would be 3/4 of a 4096-frame pool).
    if (this.unresOpt === undefined) this.unresQlenTotal = Math.max(this.queueLen, g.pool.total >> 3);
  }

  refreshDevs(): void {
    const list = this.devs.list;
    for (let d = 0; d < list.length; d++) {
      this.devHi[d] = macHi(list[d].mac);
      this.devLo[d] = macLo(list[d].mac);
    }
    this.known = list.length;
  }

  private hash(dev: number, ip: number): number {
    let h = Math.imul((ip ^ this.seed) >>> 0, 0x9e3779b1) ^ Math.imul(dev + 1, 0x85ebca6b);
    h ^= h >>> 15;
    return (Math.imul(h, 0x2c1b3c6d) >>> 0) & this.mask;
  }

  /** Entry id for (dev, ip), or -1. Hot path. */
  lookup(dev: number, ip: number): number {
    const slots = this.slots;
    const mask = this.mask;
    let h = this.hash(dev, ip);
    for (;;) {
      const x = slots[h];
      if (x === 0) return -1;
      const e = x - 1;
      if (this.ip[e] === ip && this.dev[e] === dev) return e;
      h = (h + 1) & mask;
    }
  }

  /**
   * A new entry in state `st` (not yet in the table: caller checked), or -1 when the table is at
   * gc_thresh3 and a forced GC freed nothing (table_fulls). neigh_alloc: at gc_thresh3, or past
   * gc_thresh2 with no forced GC for 5 s, run one first.
   */
  private create(dev: number, ip: number, st: number, now: number): number {
    const n = this.size;
    if (n >= this.gcThresh2 && (this.freeTop === 0 || now - this.lastFlush > 5000) && now >= this.gcBlockedUntil) {
      if (this.forcedGc(now) === 0 && this.freeTop === 0) this.gcBlockedUntil = now + 100;
    }
    if (this.freeTop === 0) {
      this.stats.v[9]++; // table_fulls
      return -1;
    }
    const e = this.freeIds[--this.freeTop];
    this.ip[e] = ip >>> 0;
    this.dev[e] = dev;
    this.state[e] = st;
    this.hi[e] = 0;
    this.lo[e] = 0;
    this.probes[e] = 0;
    this.updated[e] = now;
    this.confirmed[e] = now - this.o.baseReachableMs;
    this.used[e] = now;
    this.timer[e] = Infinity;
    this.changed[e] = -Infinity;
    this.qHead[e] = 0;
    this.qCount[e] = 0;
    const slots = this.slots;
    let h = this.hash(dev, ip);
    while (slots[h] !== 0) h = (h + 1) & this.mask;
    slots[h] = e + 1;
    this.stats.v[0]++; // allocs
    return e;
  }

  /** Remove entry e: its queued packets are dropped (unres_discards). */
  private remove(e: number): void {
    this.discardQueue(e, this.rUnres, false);
    const slots = this.slots;
    const mask = this.mask;
    let i = this.hash(this.dev[e], this.ip[e]);
    while (slots[i] !== e + 1) i = (i + 1) & mask;
    // Backward-shift deletion: pull later members of the probe run into the hole.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const x = slots[j];
      if (x === 0) break;
      const k = this.hash(this.dev[x - 1], this.ip[x - 1]);
      // x stays if its home k lies cyclically in (i, j].
      if (i <= j ? i < k && k <= j : i < k || k <= j) continue;
      slots[i] = x;
      i = j;
    }
    slots[i] = 0;
    this.state[e] = NUD_NONE;
    this.freeIds[this.freeTop++] = e;
    this.stats.v[1]++; // destroys
  }

  /**
   * neigh_forced_gc: remove entries nobody relies on until the table is back at gc_thresh2. Only
   * FAILED and NOARP entries, and STALE (or NONE) ones not updated for 5 s, are collectable — the
   * kernel's rule (entries with a timer running are referenced). Never INCOMPLETE, REACHABLE,
   * DELAY, PROBE or PERMANENT, never an entry with queued packets: live traffic keeps its
   * neighbours, a flood of new entries can only be refused (table_fulls). The scan starts where
   * the last one stopped, so eviction spreads over the table. Returns the number freed.
   */
  private forcedGc(now: number): number {
    this.stats.v[3]++; // forced_gc_runs
    this.lastFlush = now;
    const maxClean = this.size - this.gcThresh2;
    const cap = this.capacity;
    const tref = now - 5000;
    let freed = 0;
    let e = this.gcCursor;
    for (let k = 0; k < cap && freed < Math.max(1, maxClean); k++) {
      const st = this.state[e];
      if (
        st !== NUD_NONE &&
        this.qCount[e] === 0 &&
        (st === NUD_FAILED || st === NUD_NOARP || (st === NUD_STALE && this.updated[e] < tref))
      ) {
        this.remove(e);
        freed++;
      }
      e = e + 1 === cap ? 0 : e + 1;
    }
    this.gcCursor = e;
    return freed;
  }

  // ---- output side (neigh-output calls these) -------------------------------------------------

  /**
   * A packet for (dev, ip) whose entry is missing or not VALID (neigh_resolve_output's slow path).
   * Returns an entry to send it with now (a broadcast/multicast address: NOARP entry created), or
   * -1 when the table took the frame: queued while resolving, or dropped and counted.
   * addr/l3/len: the packet as in the batch (IP header at addr + l3, l3 >= 14).
   */
  resolve(dev: number, ip: number, addr: number, l3: number, len: number, now: number): number {
    let e = this.lookup(dev, ip);
    if (e < 0) {
      const m = this.noarpMac(dev, ip);
      e = this.create(dev, ip, m < 0 ? NUD_NONE : NUD_NOARP, now);
      if (e < 0) {
        this.dropFrame(addr, this.rFull);
        return -1;
      }
      if (m >= 0) {
        // Broadcast: ff:ff:ff:ff:ff:ff; multicast: 01:00:5e + low 23 bits (ip_eth_mc_map).
        this.hi[e] = m === 0 ? 0xffffffff : (0x01005e00 | ((ip >>> 16) & 0x7f)) >>> 0;
        this.lo[e] = m === 0 ? 0xffff : ip & 0xffff;
        return e;
      }
    }
    const st = this.state[e];
    if ((st & NUD_VALID) !== 0) return e;
    // Frame start moves to the Ethernet header in front of the IP header; l3 becomes 14.
    this.enqueuePending(e, addr + l3 - ETH_HLEN, len - (l3 - ETH_HLEN));
    if (st !== NUD_INCOMPLETE) {
      // NONE or FAILED: (re)start resolution with one request now, then one per retrans_time.
      this.state[e] = NUD_INCOMPLETE;
      this.updated[e] = now;
      this.probes[e] = 0;
      this.solicit(e, now);
    }
    return -1;
  }

  /** STALE used for output: go to DELAY, probe later unless confirmed meanwhile (neigh_event_send). */
  delay(e: number, now: number): void {
    this.state[e] = NUD_DELAY;
    this.updated[e] = now;
    this.timer[e] = now + this.o.delayProbeMs;
  }

  /** 0 for the broadcast MAC, 1 for a multicast MAC, -1 when ip needs ARP. */
  private noarpMac(dev: number, ip: number): number {
    if (ip === 0xffffffff) return 0;
    if (ip >>> 28 === 14) return 1;
    const d = this.devs.list[dev];
    if (d === undefined) return -1;
    for (const a of d.addrs) {
      if (a.prefixLen >= 31) continue;
      const host = (0xffffffff >>> a.prefixLen) >>> 0;
      if (((a.addr | host) >>> 0) === ip) return 0;
    }
    return -1;
  }

  private enqueuePending(e: number, addr: number, len: number): void {
    const ql = this.queueLen;
    // Per entry: unres_qlen; all entries: unresQlenTotal (an entry whose queue is full may still
    // swap its oldest frame for the new one, it does not grow the total).
    if (ql === 0 || (this.qCount[e] < ql && this.qTotal >= this.unresQlenTotal)) {
      this.dropFrame(addr, this.rUnres);
      return;
    }
    const base = e * ql;
    if (this.qCount[e] === ql) {
      // Full: drop the oldest (the kernel's __skb_dequeue + kfree_skb in __neigh_event_send).
      const h = this.qHead[e];
      this.dropFrame(this.qAddr[base + h], this.rUnres);
      this.qHead[e] = h + 1 === ql ? 0 : h + 1;
      this.qCount[e]--;
      this.qTotal--;
    }
    let t = this.qHead[e] + this.qCount[e];
    if (t >= ql) t -= ql;
    this.qAddr[base + t] = addr;
    this.qLen[base + t] = len;
    this.qCount[e]++;
    this.qTotal++;
  }

  /** Send the pending queue of a now-VALID entry through the originate path. */
  private releaseQueue(e: number): void {
    const n = this.qCount[e];
    if (n === 0) return;
    const out = this.out!; // frames were queued, so the table is attached
    const dv = this.pool().umem.dv;
    const ql = this.queueLen;
    const base = e * ql;
    const dev = this.dev[e];
    if (dev >= this.known) this.refreshDevs();
    let h = this.qHead[e];
    for (let k = 0; k < n; k++) {
      const a = this.qAddr[base + h];
      writeEthHeader(dv, a, this.hi[e], this.lo[e], this.devHi[dev], this.devLo[dev], ETH_P_IP);
      out.push(a, this.qLen[base + h], dev);
      h = h + 1 === ql ? 0 : h + 1;
    }
    this.qTotal -= n;
    this.qHead[e] = 0;
    this.qCount[e] = 0;
  }

  /** Drop every queued packet of e under `reason`; with `hook`, report each to the IPv4 layer first. */
  private discardQueue(e: number, reason: number, hook: boolean): void {
    const n = this.qCount[e];
    if (n === 0) return;
    const ql = this.queueLen;
    const base = e * ql;
    let h = this.qHead[e];
    const cb = this.onResolutionFailed;
    for (let k = 0; k < n; k++) {
      const a = this.qAddr[base + h];
      if (hook && cb !== null) {
        try {
          cb(this.dev[e], this.ip[e], this.pool().umem.u8, a, this.qLen[base + h]);
        } catch {
          this.stats.v[8]++; // hook_errors: the hook must not break the timer
        }
      }
      this.dropFrame(a, reason);
      h = h + 1 === ql ? 0 : h + 1;
    }
    this.qTotal -= n;
    this.qHead[e] = 0;
    this.qCount[e] = 0;
  }

  private dropFrame(addr: number, reason: number): void {
    const g = this.graph();
    g.drops.v[reason]++;
    g.pool.free(addr);
  }

  private graph(): Graph {
    if (this.g === null) throw new Error('neigh: table used before attach(graph) (registerL2 does it)');
    return this.g;
  }

  private pool() {
    return this.graph().pool;
  }

  /**
   * arp_solicit: a request for entry e. INCOMPLETE: broadcast; PROBE: unicast to the known MAC.
   * Sender IP: the device's address on the target's subnet, else its first (inet_select_addr).
   */
  private solicit(e: number, now: number): void {
    this.probes[e]++;
    this.timer[e] = now + this.o.retransMs;
    const g = this.graph();
    const dev = this.dev[e];
    const d = this.devs.list[dev];
    if (d === undefined || this.out === null) return;
    const addr = g.pool.alloc();
    if (addr < 0) {
      this.stats.v[7]++; // solicit_nomem: retried at the next timer
      return;
    }
    const unicast = this.state[e] === NUD_PROBE;
    if (dev >= this.known) this.refreshDevs();
    buildArp(
      g.pool.umem.dv,
      addr,
      ARPOP_REQUEST,
      unicast ? this.hi[e] : 0xffffffff,
      unicast ? this.lo[e] : 0xffff,
      this.devHi[dev],
      this.devLo[dev],
      sourceFor(d, this.ip[e]),
      0,
      0,
      this.ip[e],
    );
    this.stats.v[unicast ? 6 : 5]++;
    this.out.push(addr, ARP_FRAME_LEN, dev);
  }

  private fail(e: number, now: number): void {
    this.state[e] = NUD_FAILED;
    this.updated[e] = now;
    this.timer[e] = Infinity;
    this.stats.v[2]++; // res_failed
    this.discardQueue(e, this.rFailed, true);
  }

  // ---- input side (arp-rcv calls these) ---------------------------------------------------------

  /**
   * neigh_update from ARP: sender (dev, ip) has MAC (hi, lo). `reachable`: a unicast reply (a
   * confirmation: REACHABLE) rather than a request or broadcast (STALE). `create`: make the entry
   * if missing (a request for us, neigh_event_ns; arp_accept). `garp`: gratuitous. Returns the
   * entry or -1 (not known and not created, or the table is full).
   *
   * The rules of __neigh_update as arp_process drives it: PERMANENT/NOARP entries are not learned
   * over; a different MAC replaces the known one only after `locktime` since the entry was last
   * updated (first answer wins: one flood cannot flap it more than once per locktime), or when
   * gratuitous — and even then not sooner than locktime after the MAC last changed (softnet:
   * Linux lets every gratuitous ARP through); the same MAC as STALE does not downgrade
   * REACHABLE/DELAY/PROBE; `updated` moves only when something changes.
   */
  arpUpdate(dev: number, ip: number, hi: number, lo: number, reachable: boolean, create: boolean, garp: boolean, now: number): number {
    let e = this.lookup(dev, ip);
    if (e < 0) {
      if (!create) return -1;
      e = this.create(dev, ip, NUD_NONE, now);
      if (e < 0) return -1;
    }
    const old = this.state[e];
    if ((old & (NUD_PERMANENT | NUD_NOARP)) !== 0) return e; // admin entries are not learned over
    let next = reachable ? NUD_REACHABLE : NUD_STALE;
    const lock = this.o.locktimeMs;
    if ((old & NUD_VALID) !== 0) {
      const same = this.hi[e] === hi && this.lo[e] === lo;
      if (!same) {
        const override = garp ? now - this.changed[e] >= lock : now - this.updated[e] >= lock;
        if (!override) {
          this.stats.v[11]++; // locktime_ignored
          return e;
        }
        this.changed[e] = now;
        this.stats.v[10]++; // lladdr_changes
      } else if (next === NUD_STALE) next = old;
    }
    if (next !== old || this.hi[e] !== hi || this.lo[e] !== lo) this.updated[e] = now;
    this.hi[e] = hi;
    this.lo[e] = lo;
    this.state[e] = next;
    if (next === NUD_REACHABLE) this.confirm(e, now);
    else if (next === NUD_STALE) this.timer[e] = Infinity;
    if ((old & NUD_VALID) === 0) this.releaseQueue(e);
    return e;
  }

  private confirm(e: number, now: number): void {
    this.confirmed[e] = now;
    this.updated[e] = now;
    this.probes[e] = 0;
    const base = this.o.baseReachableMs;
    this.reachable[e] = base / 2 + this.random() * base;
    this.timer[e] = now + this.reachable[e];
  }

  // ---- timers ---------------------------------------------------------------------------------

  /** Run entry timers: retransmit, fail, age REACHABLE -> STALE, probe, collect garbage. */
  tick(now: number = this.clock()): void {
    const o = this.o;
    let gc = false;
    const periodic = this.size >= this.gcThresh1;
    for (let e = 0; e < this.capacity; e++) {
      const st = this.state[e];
      if (st === NUD_NONE || st === NUD_PERMANENT) continue;
      if (st === NUD_INCOMPLETE) {
        if (now >= this.timer[e]) {
          if (this.probes[e] >= o.mcastSolicit) this.fail(e, now);
          else this.solicit(e, now);
        }
      } else if (st === NUD_REACHABLE) {
        if (now >= this.confirmed[e] + this.reachable[e]) {
          // Used lately: give the upper layers a chance to confirm (DELAY), else just STALE.
          if (now <= this.used[e] + o.delayProbeMs) this.delay(e, now);
          else {
            this.state[e] = NUD_STALE;
            this.updated[e] = now;
            this.timer[e] = Infinity;
          }
        }
      } else if (st === NUD_DELAY) {
        if (now >= this.timer[e]) {
          this.state[e] = NUD_PROBE;
          this.updated[e] = now;
          this.probes[e] = 0;
          this.solicit(e, now);
        }
      } else if (st === NUD_PROBE) {
        if (now >= this.timer[e]) {
          if (this.probes[e] >= o.ucastSolicit) this.fail(e, now);
          else this.solicit(e, now);
        }
      } else if (periodic && this.qCount[e] === 0 && now - (st === NUD_FAILED ? this.updated[e] : this.used[e]) >= o.gcStaleMs) {
        // STALE, FAILED and NOARP entries nobody used for gc_stale_time (neigh_periodic_work),
        // only while the table holds at least gc_thresh1 entries.
        this.remove(e);
        gc = true;
      }
    }
    if (gc) this.stats.v[4]++;
    this.drain();
  }

  /** Dispatch originated frames (requests, released queues). Outside any stage's run() only. */
  drain(): void {
    this.out?.drain();
  }

  private interval: ReturnType<typeof setInterval> | null = null;

  /** Call tick() every `ms` on a timer that does not keep the process alive. */
  startTimer(ms = 250): void {
    this.stopTimer();
    this.interval = setInterval(() => this.tick(), ms);
    this.interval.unref();
  }

  stopTimer(): void {
    if (this.interval !== null) clearInterval(this.interval);
    this.interval = null;
  }

  // ---- control plane --------------------------------------------------------------------------

  /** `ip neigh replace IP lladdr MAC dev DEV nud permanent`. */
  addPermanent(dev: number, ip: number, mac: Uint8Array, now: number = this.clock()): void {
    if (this.devs.list[dev] === undefined) throw new Error(`neigh: no device with index ${dev}`);
    if (mac.length !== 6) throw new Error('neigh: a MAC address is 6 bytes');
    let e = this.lookup(dev, ip >>> 0);
    if (e < 0) e = this.create(dev, ip >>> 0, NUD_NONE, now);
    if (e < 0) throw new Error(`neigh: table full (${this.capacity} entries, none collectable); raise capacity`);
    const old = this.state[e];
    this.hi[e] = macHi(mac);
    this.lo[e] = macLo(mac);
    this.state[e] = NUD_PERMANENT;
    this.updated[e] = now;
    this.timer[e] = Infinity;
    if ((old & NUD_VALID) === 0) this.releaseQueue(e);
  }

  /** `ip neigh del`: true if there was an entry. */
  delete(dev: number, ip: number): boolean {
    const e = this.lookup(dev, ip >>> 0);
    if (e < 0) return false;
    this.remove(e);
    return true;
  }

  /** `ip neigh flush [dev]`: every non-permanent entry (of one device). */
  flush(dev = -1): number {
    let k = 0;
    for (let e = 0; e < this.capacity; e++) {
      const st = this.state[e];
      if (st === NUD_NONE || st === NUD_PERMANENT || (dev >= 0 && this.dev[e] !== dev)) continue;
      this.remove(e);
      k++;
    }
    return k;
  }

  /** Packets waiting on resolution for (dev, ip). */
  queued(dev: number, ip: number): number {
    const e = this.lookup(dev, ip >>> 0);
    return e < 0 ? 0 : this.qCount[e];
  }

  /** State name of (dev, ip) or 'NONE'. */
  stateOf(dev: number, ip: number): string {
    const e = this.lookup(dev, ip >>> 0);
    return e < 0 ? 'NONE' : (STATE_NAMES[this.state[e]] ?? 'NONE');
  }

  /** Frames the neighbour layer holds (pending queues + originate ring), for accounting. */
  framesHeld(): number {
    let n = this.out?.pending ?? 0;
    for (let e = 0; e < this.capacity; e++) n += this.qCount[e];
    return n;
  }

  /** Free every held frame and forget every entry (shutdown). */
  clear(): void {
    for (let e = 0; e < this.capacity; e++) if (this.state[e] !== NUD_NONE) this.remove(e);
    this.out?.clear();
  }

  /** `ip neigh show`. */
  dump(): NeighEntry[] {
    const rows: NeighEntry[] = [];
    for (let e = 0; e < this.capacity; e++) {
      const st = this.state[e];
      if (st === NUD_NONE) continue;
      rows.push({
        ip: formatIp(this.ip[e]),
        dev: this.devs.list[this.dev[e]]?.name ?? `#${this.dev[e]}`,
        lladdr: (st & NUD_VALID) !== 0 ? macPairToString(this.hi[e], this.lo[e]) : null,
        state: STATE_NAMES[st] ?? String(st),
        queued: this.qCount[e],
        probes: this.probes[e],
      });
    }
    return rows;
  }

  /** `ip neigh` text: "10.0.0.2 dev p0 lladdr 02:00:00:00:00:01 REACHABLE". */
  format(): string {
    return this.dump()
      .map((r) => `${r.ip} dev ${r.dev}${r.lladdr !== null ? ` lladdr ${r.lladdr}` : ''} ${r.state}`)
      .join('\n');
  }
}

/** The address to send an ARP request from on d for target: same subnet first (inet_select_addr). */
function sourceFor(d: NetDevice, target: number): number {
  for (const a of d.addrs) {
    const m = a.prefixLen === 0 ? 0 : (0xffffffff << (32 - a.prefixLen)) >>> 0;
    if (((a.addr ^ target) & m) >>> 0 === 0) return a.addr >>> 0;
  }
  return d.addrs.length > 0 ? d.addrs[0].addr >>> 0 : 0;
}
