import type { Graph } from '../core/graph.ts';
import { ETH_P_IP, writeEthHeader } from '../wire/ethernet.ts';
import type { Originate } from './originate.ts';

/** Called for each packet dropped because its next hop did not resolve (arp_error_report). */
export type ResolutionFailedHook = (dev: number, ip: number, u8: Uint8Array, addr: number, len: number) => void;

/**
 * The packets waiting for their next hop to resolve (each neighbour's arp_queue in the kernel):
 * a ring of `perEntry` frames (unres_qlen) per entry id, addresses of the Ethernet header in
 * front of the IP header. Bounded per entry and in total (`limit`): the frames come from the
 * UMEM pool the NIC fill rings draw on, so a flood of unresolvable next hops must not starve
 * receive. The queue owns its frames: they leave by release() (resolved), discard() (failed,
 * removed) or a drop when a bound refuses them (`neigh.unres_discards`).
 */
export class NeighQueue {
  /** Frames in entry e's queue. */
  readonly count: Uint8Array;
  /** Frames in all queues now. */
  total = 0;
  /** Frames all queues may hold together (NeighOptions.unresQlenTotal). */
  limit: number;
  private readonly addr: Uint32Array;
  private readonly len: Uint16Array;
  private readonly head: Uint8Array;
  private g: Graph | null = null;
  private rUnres = 0;

  constructor(
    capacity: number,
    readonly perEntry: number,
    private readonly limitOpt: number | undefined,
  ) {
    if (!Number.isInteger(perEntry) || perEntry < 0 || perEntry > 255) throw new Error(`neigh: queueLen ${perEntry} is not in 0..255`);
    this.limit = limitOpt ?? capacity * perEntry;
    this.count = new Uint8Array(capacity);
    this.head = new Uint8Array(capacity);
    this.addr = new Uint32Array(capacity * perEntry);
    this.len = new Uint16Array(capacity * perEntry);
  }

  /** The graph whose pool the frames come from and whose drop counters count (setup). */
  attach(g: Graph): void {
    this.g = g;
    this.rUnres = g.reason('neigh.unres_discards');
    // 1024 entries x 3 would be 3/4 of a 4096-frame pool: default to an eighth of the pool.
    if (this.limitOpt === undefined) this.limit = Math.max(this.perEntry, g.pool.total >> 3);
  }

  graph(): Graph {
    if (this.g === null) throw new Error('neigh: table used before attach(graph) (registerL2 does it)');
    return this.g;
  }

  /**
   * Queue the frame at addr for entry e (__neigh_event_send). Per entry: unres_qlen, a full queue
   * drops its oldest frame; all entries: `limit` (an entry whose queue is full may still swap its
   * oldest frame for the new one, it does not grow the total).
   */
  enqueue(e: number, addr: number, len: number): void {
    const ql = this.perEntry;
    if (ql === 0 || (this.count[e] < ql && this.total >= this.limit)) {
      this.drop(addr, this.rUnres);
      return;
    }
    const base = e * ql;
    if (this.count[e] === ql) {
      // Full: drop the oldest (the kernel's __skb_dequeue + kfree_skb in __neigh_event_send).
      const h = this.head[e];
      this.drop(this.addr[base + h], this.rUnres);
      this.head[e] = h + 1 === ql ? 0 : h + 1;
      this.count[e]--;
      this.total--;
    }
    let t = this.head[e] + this.count[e];
    if (t >= ql) t -= ql;
    this.addr[base + t] = addr;
    this.len[base + t] = len;
    this.count[e]++;
    this.total++;
  }

  /** e resolved: write each frame's Ethernet header (dst -> src) and send it out dev through `out`. */
  release(e: number, out: Originate, dev: number, dstHi: number, dstLo: number, srcHi: number, srcLo: number): void {
    const n = this.count[e];
    if (n === 0) return;
    const dv = this.graph().pool.umem.dv;
    const ql = this.perEntry;
    const base = e * ql;
    let h = this.head[e];
    for (let k = 0; k < n; k++) {
      const a = this.addr[base + h];
      writeEthHeader(dv, a, dstHi, dstLo, srcHi, srcLo, ETH_P_IP);
      out.push(a, this.len[base + h], dev);
      h = h + 1 === ql ? 0 : h + 1;
    }
    this.total -= n;
    this.head[e] = 0;
    this.count[e] = 0;
  }

  /** Entry e goes away: drop its frames (unres_discards, as neigh_destroy purges arp_queue). */
  purge(e: number): void {
    this.discard(e, this.rUnres, null, 0, 0);
  }

  /**
   * Drop every frame of e under `reason`; with a hook, report each to the IPv4 layer first as a
   * packet for next hop (dev, ip) (neigh_invalidate -> arp_error_report). Returns how many
   * hook calls threw: they are counted (hook_errors), they must not break the timer.
   */
  discard(e: number, reason: number, hook: ResolutionFailedHook | null, dev: number, ip: number): number {
    const n = this.count[e];
    if (n === 0) return 0;
    const ql = this.perEntry;
    const base = e * ql;
    let h = this.head[e];
    let thrown = 0;
    for (let k = 0; k < n; k++) {
      const a = this.addr[base + h];
      if (hook !== null) {
        try {
          hook(dev, ip, this.graph().pool.umem.u8, a, this.len[base + h]);
        } catch {
          thrown++;
        }
      }
      this.drop(a, reason);
      h = h + 1 === ql ? 0 : h + 1;
    }
    this.total -= n;
    this.head[e] = 0;
    this.count[e] = 0;
    return thrown;
  }

  /** Free a frame the neighbour layer owns, counted as a drop under `reason`. */
  drop(addr: number, reason: number): void {
    const g = this.graph();
    g.drops.v[reason]++;
    g.pool.free(addr);
  }

  /** Frames held in all queues, counted entry by entry (frame accounting). */
  held(): number {
    let n = 0;
    for (let e = 0; e < this.count.length; e++) n += this.count[e];
    return n;
  }
}
