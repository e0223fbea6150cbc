/**
 * DIR-24-8 longest-prefix match (Gupta/Lin/McKeown 1998; DPDK rte_lpm): one array indexed by the
 * top 24 bits of the address answers every prefix up to /24 in one memory access; longer
 * prefixes hang off 256-entry "tbl8" groups, a second access.
 *
 * Entries are Int32: 0 = no route, > 0 = next-hop id + 1, < 0 = tbl8 group (index in the low 31
 * bits): no limit on groups or next hops (rte_lpm's 16-bit variant stops at 32k).
 *
 * Random lookups are bound by DRAM and TLB misses on tbl24, so the hot copy of it is narrow:
 * n24 holds the same entry in one byte when it is a next hop < NARROW_MAX (most tables have few
 * distinct next hops), else NARROW_WIDE = "read the Int32 entry in w24". 16 MiB instead of 64 MiB
 * stays mostly in the last-level cache and needs a quarter of the page walks; w24 is read only
 * for prefixes longer than /24 or next-hop ids >= 253.
 *
 * The depth (prefix length + 1, 0 = empty) of the route that wrote each entry lives in separate
 * Uint8Arrays, read only by updates: it is what lets add and delete touch only the entries the
 * prefix owns (rte_lpm keeps it inside the entry; keeping it out keeps lookup free of masking).
 * Updates are synchronous, so lookups between two calls always see a consistent table; a group
 * is filled before it is linked and unlinked before it is freed.
 */

const T24_SIZE = 1 << 24;
const GROUP_FLAG = 0x80000000 | 0;
/** n24 values: 0 none, 1..NARROW_MAX-1 next hop + 1, NARROW_WIDE: the entry is in w24. */
// Module-local: an exported const is read through its module cell at every use, even here
// (src/wire/README.md, "On the hot path"), and lookup() tests it per packet.
const WIDE = 254;
export const NARROW_WIDE = WIDE;
const NARROW_MAX = 254;

/** The one-byte form of a wide entry. */
function narrow(e: number): number {
  return e >= 0 && e < NARROW_MAX ? e : WIDE;
}

export class Dir24 {
  /** tbl24, one byte per entry (see narrow()); the array lookups read first. */
  readonly n24 = new Uint8Array(T24_SIZE);
  /** tbl24, the full Int32 entries. */
  readonly w24 = new Int32Array(T24_SIZE);
  /** Depth (len + 1) of the route that set each tbl24 entry; meaningless for group entries. */
  private readonly d24 = new Uint8Array(T24_SIZE);
  t8: Int32Array;
  private d8: Uint8Array;
  private groupCap: number;
  private groupsUsed = 0;
  private readonly freeGroups: number[] = [];
  /** Number of groups linked from tbl24. */
  groups = 0;

  constructor(initialGroups = 256) {
    this.groupCap = initialGroups;
    this.t8 = new Int32Array(initialGroups << 8);
    this.d8 = new Uint8Array(initialGroups << 8);
  }

  /** Next-hop id for daddr, or -1. The hot path: two loads at most, no allocation. */
  lookup(daddr: number): number {
    let e = this.n24[daddr >>> 8];
    if (e === WIDE) {
      e = this.w24[daddr >>> 8];
      if (e < 0) e = this.t8[((e & 0x7fffffff) << 8) | (daddr & 255)];
    }
    return e - 1;
  }

  /** Bytes held by the tables (tbl24 + depths + allocated tbl8 groups). */
  memoryBytes(): number {
    return this.n24.byteLength + this.w24.byteLength + this.d24.byteLength + this.t8.byteLength + this.d8.byteLength;
  }

  /**
   * Makes nh the answer for prefix/len wherever no longer prefix answers (entries whose depth is
   * <= len: less specific routes, or this prefix's previous best).
   */
  insert(prefix: number, len: number, nh: number): void {
    const v = nh + 1;
    const dep = len + 1;
    if (len <= 24) {
      const start = prefix >>> 8;
      const end = start + (1 << (24 - len));
      const w24 = this.w24;
      const n24 = this.n24;
      const d24 = this.d24;
      const nv = narrow(v);
      for (let i = start; i < end; i++) {
        const e = w24[i];
        if (e < 0) this.setRange((e & 0x7fffffff) << 8, 256, v, dep, true);
        else if (d24[i] <= dep) {
          w24[i] = v;
          n24[i] = nv;
          d24[i] = dep;
        }
      }
      return;
    }
    const i = prefix >>> 8;
    let e = this.w24[i];
    if (e >= 0) e = this.split(i);
    this.setRange(((e & 0x7fffffff) << 8) | (prefix & 255), 1 << (32 - len), v, dep, true);
  }

  /**
   * prefix/len has no route any more: entries it owned (depth == len + 1) now answer with the
   * next less specific route (repNh, repLen), or no route when repNh < 0.
   */
  remove(prefix: number, len: number, repNh: number, repLen: number): void {
    const dep = len + 1;
    const rv = repNh < 0 ? 0 : repNh + 1;
    const rdep = repNh < 0 ? 0 : repLen + 1;
    if (len <= 24) {
      const start = prefix >>> 8;
      const end = start + (1 << (24 - len));
      const w24 = this.w24;
      const n24 = this.n24;
      const d24 = this.d24;
      const nrv = narrow(rv);
      for (let i = start; i < end; i++) {
        const e = w24[i];
        // Groups keep at least one entry deeper than /24, so they never collapse here.
        if (e < 0) this.replaceDepth((e & 0x7fffffff) << 8, 256, dep, rv, rdep);
        else if (d24[i] === dep) {
          w24[i] = rv;
          n24[i] = nrv;
          d24[i] = rdep;
        }
      }
      return;
    }
    const i = prefix >>> 8;
    const e = this.w24[i];
    if (e >= 0) return; // nothing deeper than /24 here: the prefix was never installed
    const base = (e & 0x7fffffff) << 8;
    this.replaceDepth(base | (prefix & 255), 1 << (32 - len), dep, rv, rdep);
    this.maybeCollapse(i, base);
  }

  private setRange(from: number, n: number, v: number, dep: number, ifShallower: boolean): void {
    const t8 = this.t8;
    const d8 = this.d8;
    for (let j = from, end = from + n; j < end; j++) {
      if (!ifShallower || d8[j] <= dep) {
        t8[j] = v;
        d8[j] = dep;
      }
    }
  }

  private replaceDepth(from: number, n: number, dep: number, rv: number, rdep: number): void {
    const t8 = this.t8;
    const d8 = this.d8;
    for (let j = from, end = from + n; j < end; j++) {
      if (d8[j] === dep) {
        t8[j] = rv;
        d8[j] = rdep;
      }
    }
  }

  /** Replaces tbl24 entry i by a group holding 256 copies of it; returns the new entry. */
  private split(i: number): number {
    const g = this.allocGroup();
    this.setRange(g << 8, 256, this.w24[i], this.d24[i], false);
    const e = g | GROUP_FLAG;
    this.w24[i] = e; // link only once filled
    this.n24[i] = WIDE;
    this.d24[i] = 0;
    this.groups++;
    return e;
  }

  /** When no entry of the group is deeper than /24 any more, they are all equal: fold it back. */
  private maybeCollapse(i: number, base: number): void {
    const d8 = this.d8;
    for (let j = base; j < base + 256; j++) if (d8[j] > 25) return;
    const v = this.t8[base];
    this.w24[i] = v;
    this.n24[i] = narrow(v); // unlink before the group is reused
    this.d24[i] = d8[base];
    this.freeGroups.push(base >>> 8);
    this.groups--;
  }

  private allocGroup(): number {
    const g = this.freeGroups.pop();
    if (g !== undefined) return g;
    if (this.groupsUsed === this.groupCap) {
      if (this.groupCap >= 1 << 23) throw new Error('fib: tbl8 groups exhausted (8M groups of /25../32 routes)');
      this.groupCap *= 2;
      const t8 = new Int32Array(this.groupCap << 8);
      t8.set(this.t8);
      const d8 = new Uint8Array(this.groupCap << 8);
      d8.set(this.d8);
      this.t8 = t8;
      this.d8 = d8;
    }
    return this.groupsUsed++;
  }
}
