/**
 * The by-source mapping (nf_nat_core.c's nf_nat_bysource and find_appropriate_src): a source
 * address/port that is already SNATed keeps its mapping for its next connections, whatever
 * their destination (what lets UDP hole punching and games work through Linux NAT).
 *
 * The kernel chains every SNATed entry by its original source. Here one slot per source hash
 * names the latest entry SNATed for that source, and a lookup checks that the entry still is a
 * confirmed, SNATed connection of that source: no unlinking when entries die (a freed or reused
 * entry fails the check), bounded memory, nothing allocated. What it loses against the chains:
 * of several live mappings of one source only the latest is offered (the kernel offers the
 * first in range), and two sources sharing a slot evict each other's hint (then the port search
 * decides, as for a new source).
 */

import type { CtTable } from '../conntrack/table.ts';
import * as common from '../conntrack/common.ts';

const { IPS_CONFIRMED, IPS_DYING, IPS_SRC_NAT_DONE } = common;

export class BySource {
  private readonly slot: Int32Array;
  private readonly mask: number;

  constructor(
    private readonly table: CtTable,
    size: number,
    private readonly seed: number,
  ) {
    let n = 1024;
    while (n < size) n *= 2;
    this.slot = new Int32Array(n).fill(-1);
    this.mask = n - 1;
  }

  private key(src: number, sport: number, proto: number): number {
    let h = Math.imul(src ^ this.seed, 0x9e3779b1) ^ Math.imul(sport | (proto << 16), 0x85ebca6b);
    h ^= h >>> 15;
    return h & this.mask;
  }

  /** Source port or ICMP id of an original tuple's ports word (the part SNAT maps). */
  private static sport(ports: number): number {
    return ports >>> 16;
  }

  /** Entry e got its SRC mapping (nf_nat_setup_info's hlist_add_head). */
  add(e: number): void {
    const o = e * 8;
    const t = this.table.tup;
    this.slot[this.key(t[o], BySource.sport(t[o + 2]), t[o + 3])] = e;
  }

  /**
   * find_appropriate_src: into out, the tuple `cur` becomes under the mapping its source already
   * has (the inverse of that entry's reply tuple, with cur's destination); false when none.
   */
  find(cur: Uint32Array, out: Uint32Array): boolean {
    const e = this.slot[this.key(cur[0], BySource.sport(cur[2]), cur[3])];
    if (e < 0) return false;
    const t = this.table;
    if ((t.status[e] & (IPS_CONFIRMED | IPS_SRC_NAT_DONE | IPS_DYING)) !== (IPS_CONFIRMED | IPS_SRC_NAT_DONE)) return false;
    const o = e * 8;
    const tup = t.tup;
    // same_src: protocol, source address and port/id of the original direction
    if (tup[o + 3] !== cur[3] || tup[o] !== cur[0] || tup[o + 2] >>> 16 !== cur[2] >>> 16) return false;
    // the source part of the inverted reply tuple: reply.dst and reply's dport (ICMP: the id)
    const proto = cur[3];
    out[0] = tup[o + 5];
    out[1] = cur[1];
    out[3] = proto;
    if (proto === 6 || proto === 17) out[2] = (((tup[o + 6] & 0xffff) << 16) | (cur[2] & 0xffff)) >>> 0;
    else if (proto === 1) out[2] = ((tup[o + 6] & 0xffff0000) | (cur[2] & 0xffff)) >>> 0;
    else out[2] = cur[2];
    return true;
  }
}
