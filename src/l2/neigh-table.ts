import { counterIds, Counters } from '../core/counters.ts';
import type { Graph } from '../core/graph.ts';
import type { NetDevices } from '../core/netdev.ts';
import { macHi, macLo } from '../wire/ethernet.ts';
import { NeighQueue, type ResolutionFailedHook } from './neigh-queue.ts';
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

/** Non-drop statistics, under the names `ip -s ntable` / /proc/net/stat/arp_cache use. */
export const NEIGH_STATS = [
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
] as const;
/** Ids of NEIGH_STATS in NeighEntries.stats: `stats.v[NEIGH.table_fulls]++`. */
export const NEIGH = counterIds(NEIGH_STATS);

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

/** The timing tunables the NUD timers and solicitation read (the kernel's neigh_parms). */
export type NeighParms = Required<Pick<NeighOptions, 'baseReachableMs' | 'retransMs' | 'mcastSolicit' | 'ucastSolicit' | 'delayProbeMs' | 'gcStaleMs' | 'locktimeMs'>>;

/**
 * The data of the neighbour table (struct neigh_table + its struct neighbours): entries as
 * columns of typed arrays indexed by entry id, a fixed-capacity open-addressing hash from
 * (device, IPv4) to entry id (linear probing, backward-shift deletion), entry allocation with
 * the kernel's forced GC, the pending queues, the devices' MACs and the link to the graph.
 * Entry ids are stable for an entry's life. The NUD timers (neigh-timer.ts), solicitation
 * (neigh-solicit.ts) and the dump (neigh-dump.ts) work on it; NeighTable (neighbour.ts) adds the
 * entry points. neigh-output reads the columns and calls lookup() directly: the hot path.
 */
export class NeighEntries {
  readonly capacity: number;
  readonly gcThresh1: number;
  readonly gcThresh2: number;
  readonly parms: NeighParms;
  readonly clock: () => number;
  readonly random: () => number;
  onResolutionFailed: ResolutionFailedHook | null;
  readonly stats = new Counters('neigh', NEIGH_STATS);
  /** Packets waiting on resolution, per entry. */
  readonly pending: NeighQueue;

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

  /** Device MACs as (hi, lo), refreshed when devices are added. */
  readonly devHi = new Uint32Array(256);
  readonly devLo = new Uint16Array(256);
  known = 0;

  /** Where originated frames (ARP requests, released queues) go; set by attach(). */
  out: Originate | null = null;
  /** Drop reasons neigh.resolution_failed and neigh.table_fulls (attach). */
  rFailed = 0;
  rFull = 0;

  // Free entry ids and the hash index (slot -> entry id + 1, 0 = empty).
  private readonly freeIds: Int32Array;
  private freeTop: number;
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly seed: number;
  private lastFlush: number;
  private gcCursor = 0;
  private gcBlockedUntil = -Infinity;

  constructor(
    readonly devs: NetDevices,
    opts: NeighOptions = {},
  ) {
    const cap = opts.capacity ?? 1024;
    if (!Number.isInteger(cap) || cap < 1 || cap > 1 << 20) throw new Error(`neigh: capacity ${cap} is not in 1..1048576`);
    this.capacity = cap;
    this.pending = new NeighQueue(cap, opts.queueLen ?? 3, opts.unresQlenTotal);
    this.gcThresh2 = Math.min(opts.gcThresh2 ?? 512, cap >> 1);
    this.gcThresh1 = Math.min(opts.gcThresh1 ?? 128, cap >> 3);
    if (!(this.gcThresh1 >= 0 && this.gcThresh1 <= this.gcThresh2 && this.gcThresh2 <= cap)) {
      throw new Error(`neigh: need 0 <= gcThresh1 (${this.gcThresh1}) <= gcThresh2 (${this.gcThresh2}) <= capacity (${cap})`);
    }
    this.clock = opts.clock ?? (() => performance.now());
    this.random = opts.random ?? Math.random;
    this.onResolutionFailed = opts.onResolutionFailed ?? null;
    this.parms = {
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
    if (this.out?.g === g) return;
    this.out = new Originate(g, 'dev-xmit');
    this.pending.attach(g);
    this.rFailed = g.reason('neigh.resolution_failed');
    this.rFull = g.reason('neigh.table_fulls');
  }

  /** The attached graph (throws before attach). */
  graph(): Graph {
    return this.pending.graph();
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
  create(dev: number, ip: number, st: number, now: number): number {
    const n = this.size;
    if (n >= this.gcThresh2 && (this.freeTop === 0 || now - this.lastFlush > 5000) && now >= this.gcBlockedUntil) {
      if (this.forcedGc(now) === 0 && this.freeTop === 0) this.gcBlockedUntil = now + 100;
    }
    if (this.freeTop === 0) {
      this.stats.v[NEIGH.table_fulls]++;
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
    this.confirmed[e] = now - this.parms.baseReachableMs;
    this.used[e] = now;
    this.timer[e] = Infinity;
    this.changed[e] = -Infinity;
    const slots = this.slots;
    let h = this.hash(dev, ip);
    while (slots[h] !== 0) h = (h + 1) & this.mask;
    slots[h] = e + 1;
    this.stats.v[NEIGH.allocs]++;
    return e;
  }

  /** Remove entry e: its queued packets are dropped (unres_discards). */
  remove(e: number): void {
    this.pending.purge(e);
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
    this.stats.v[NEIGH.destroys]++;
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
    this.stats.v[NEIGH.forced_gc_runs]++;
    this.lastFlush = now;
    const maxClean = this.size - this.gcThresh2;
    const cap = this.capacity;
    const tref = now - 5000;
    const queued = this.pending.count;
    let freed = 0;
    let e = this.gcCursor;
    for (let k = 0; k < cap && freed < Math.max(1, maxClean); k++) {
      const st = this.state[e];
      if (
        st !== NUD_NONE &&
        queued[e] === 0 &&
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

  /** Send e's pending packets, now that it is VALID, through the originate path. */
  releaseQueue(e: number): void {
    if (this.pending.count[e] === 0) return;
    const dev = this.dev[e];
    if (dev >= this.known) this.refreshDevs();
    // Frames were queued, so the table is attached and out is set.
    this.pending.release(e, this.out!, dev, this.hi[e], this.lo[e], this.devHi[dev], this.devLo[dev]);
  }
}
