/**
 * The simple FIB: one Map per prefix length, each prefix holding its routes sorted by metric.
 * It is (1) the reference the fast DIR-24-8 table is tested against and (2) the rule list the
 * fast table is recomputed from when a route goes away (the less specific one must reappear).
 * Lookup walks lengths 32..0: slow (a few M/s) but obviously right.
 */

import { maskOf } from '../../wire/addr.ts';

/** The fields of a route this module needs (fib.ts's Route satisfies it). */
export interface RefRoute {
  prefix: number;
  len: number;
  metric: number;
}

export class RouteTable<R extends RefRoute> {
  /** byLen[len]: prefix -> routes sorted by ascending metric (insertion order among equals). */
  private readonly byLen: Array<Map<number, R[]>> = [];
  size = 0;

  constructor() {
    for (let i = 0; i <= 32; i++) this.byLen.push(new Map());
  }

  /** Routes for exactly this prefix/len, best first (the live array: do not mutate). */
  get(prefix: number, len: number): readonly R[] | undefined {
    return this.byLen[len].get(prefix >>> 0);
  }

  /** The best route of prefix/len (of those `ok` accepts, when given). */
  best(prefix: number, len: number, ok?: (r: R) => boolean): R | undefined {
    const l = this.byLen[len].get(prefix >>> 0);
    if (l === undefined) return undefined;
    if (ok === undefined) return l[0];
    for (const r of l) if (ok(r)) return r;
    return undefined;
  }

  /** Inserts keeping metric order; returns true if r became the best route for its prefix. */
  insert(r: R): boolean {
    const m = this.byLen[r.len];
    let l = m.get(r.prefix);
    if (l === undefined) m.set(r.prefix, (l = []));
    let i = l.length;
    while (i > 0 && l[i - 1].metric > r.metric) i--;
    l.splice(i, 0, r);
    this.size++;
    return i === 0;
  }

  /** Removes this exact route object; returns true if it was the best for its prefix. */
  remove(r: R): boolean {
    const m = this.byLen[r.len];
    const l = m.get(r.prefix);
    if (l === undefined) return false;
    const i = l.indexOf(r);
    if (i < 0) return false;
    l.splice(i, 1);
    if (l.length === 0) m.delete(r.prefix);
    this.size--;
    return i === 0;
  }

  /**
   * Longest-prefix match: the best route of the longest prefix covering daddr with len <= maxLen
   * (among the routes `ok` accepts, when given: the FIB skips routes whose link is down).
   */
  lookup(daddr: number, maxLen = 32, ok?: (r: R) => boolean): R | undefined {
    for (let len = maxLen; len >= 0; len--) {
      const m = this.byLen[len];
      if (m.size === 0) continue;
      const l = m.get((daddr & maskOf(len)) >>> 0);
      if (l === undefined) continue;
      if (ok === undefined) return l[0];
      for (const r of l) if (ok(r)) return r;
    }
    return undefined;
  }

  /** All routes, most specific prefixes first then by address and metric (like ip route show's order is not; callers sort). */
  *all(): IterableIterator<R> {
    for (let len = 32; len >= 0; len--) for (const l of this.byLen[len].values()) yield* l;
  }
}
