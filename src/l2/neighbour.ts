import type { NetDevices } from '../core/netdev.ts';
import { ETH_HLEN, macHi, macLo } from '../wire/ethernet.ts';
import { formatNeigh, neighDump, NUD_NAMES, type NeighEntry } from './neigh-dump.ts';
import { noarpMac, solicit } from './neigh-solicit.ts';
import {
  NEIGH,
  NUD_INCOMPLETE,
  NUD_NOARP,
  NUD_NONE,
  NUD_PERMANENT,
  NUD_REACHABLE,
  NUD_STALE,
  NUD_VALID,
  NeighEntries,
  type NeighOptions,
} from './neigh-table.ts';
import { enterDelay, enterReachable, runTimers } from './neigh-timer.ts';

// Callers import the table's states, stats ids and options from here.
export * from './neigh-table.ts';
export type { NeighEntry } from './neigh-dump.ts';
export type { ResolutionFailedHook } from './neigh-queue.ts';

/**
 * The neighbour table (net/core/neighbour.c + arp.c's constructor): (device, IPv4) -> MAC and
 * NUD state. This class is the table's entry points; its parts live beside it:
 *   neigh-table.ts    entries in typed arrays, the hash index, create/remove, forced GC
 *   neigh-queue.ts    packets pending resolution, bounded per entry and in total
 *   neigh-solicit.ts  ARP requests and probes, NOARP (broadcast/multicast) next hops
 *   neigh-timer.ts    the NUD timers and the periodic GC
 *   neigh-dump.ts     `ip neigh show`
 * neigh-output calls lookup() and reads the columns (inherited: no indirection per packet), and
 * resolve() on a miss; arp-rcv calls arpUpdate(). Time only moves through the clock: tick()
 * must be called regularly (startTimer() does, every 250 ms by default).
 */
export class NeighTable extends NeighEntries {
  /** net.ipv4.conf.*.arp_accept (see NeighOptions). */
  arpAccept: number;
  private interval: ReturnType<typeof setInterval> | null = null;

  constructor(devs: NetDevices, opts: NeighOptions = {}) {
    super(devs, opts);
    this.arpAccept = opts.arpAccept ?? 0;
    if (![0, 1, 2].includes(this.arpAccept)) throw new Error(`neigh: arpAccept ${this.arpAccept} is not 0, 1 or 2`);
  }

  /** Frames all pending queues may hold (see NeighOptions.unresQlenTotal; set by attach). */
  get unresQlenTotal(): number {
    return this.pending.limit;
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
      const m = noarpMac(this.devs, dev, ip);
      e = this.create(dev, ip, m < 0 ? NUD_NONE : NUD_NOARP, now);
      if (e < 0) {
        this.pending.drop(addr, this.rFull);
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
    this.pending.enqueue(e, addr + l3 - ETH_HLEN, len - (l3 - ETH_HLEN));
    if (st !== NUD_INCOMPLETE) {
      // NONE or FAILED: (re)start resolution with one request now, then one per retrans_time.
      this.state[e] = NUD_INCOMPLETE;
      this.updated[e] = now;
      this.probes[e] = 0;
      solicit(this, e, now);
    }
    return -1;
  }

  /** STALE used for output: go to DELAY, probe later unless confirmed meanwhile (neigh_event_send). */
  delay(e: number, now: number): void {
    enterDelay(this, e, now);
  }

  // ---- input side (arp-rcv calls this) --------------------------------------------------------

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
    const lock = this.parms.locktimeMs;
    if ((old & NUD_VALID) !== 0) {
      const same = this.hi[e] === hi && this.lo[e] === lo;
      if (!same) {
        const override = garp ? now - this.changed[e] >= lock : now - this.updated[e] >= lock;
        if (!override) {
          this.stats.v[NEIGH.locktime_ignored]++;
          return e;
        }
        this.changed[e] = now;
        this.stats.v[NEIGH.lladdr_changes]++;
      } else if (next === NUD_STALE) next = old;
    }
    if (next !== old || this.hi[e] !== hi || this.lo[e] !== lo) this.updated[e] = now;
    this.hi[e] = hi;
    this.lo[e] = lo;
    this.state[e] = next;
    if (next === NUD_REACHABLE) enterReachable(this, e, now);
    else if (next === NUD_STALE) this.timer[e] = Infinity;
    if ((old & NUD_VALID) === 0) this.releaseQueue(e);
    return e;
  }

  // ---- timers ---------------------------------------------------------------------------------

  /** Run entry timers (retransmit, fail, age, probe, collect garbage), then send what they queued. */
  tick(now: number = this.clock()): void {
    runTimers(this, now);
    this.drain();
  }

  /** Dispatch originated frames (requests, released queues). Outside any stage's run() only. */
  drain(): void {
    this.out?.drain();
  }

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

  /** `ip neigh flush [dev]` (neigh_flush_dev): every non-permanent entry (of one device). */
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
    return e < 0 ? 0 : this.pending.count[e];
  }

  /** State name of (dev, ip) or 'NONE'. */
  stateOf(dev: number, ip: number): string {
    const e = this.lookup(dev, ip >>> 0);
    return e < 0 ? 'NONE' : (NUD_NAMES[this.state[e]] ?? 'NONE');
  }

  /** Frames the neighbour layer holds (pending queues + originate ring), for accounting. */
  framesHeld(): number {
    return (this.out?.pending ?? 0) + this.pending.held();
  }

  /** Free every held frame and forget every entry (shutdown). */
  clear(): void {
    for (let e = 0; e < this.capacity; e++) if (this.state[e] !== NUD_NONE) this.remove(e);
    this.out?.clear();
  }

  /** `ip neigh show`. */
  dump(): NeighEntry[] {
    return neighDump(this);
  }

  /** `ip neigh` text: "10.0.0.2 dev p0 lladdr 02:00:00:00:00:01 REACHABLE". */
  format(): string {
    return formatNeigh(this.dump());
  }
}
