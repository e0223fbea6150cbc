import { grown } from './grow.ts';

/** Counter ids (indexes into Counters.v) by name, typed from a names tuple. */
export type CounterIds<T extends readonly string[]> = { readonly [K in T[number]]: number };

/**
 * The ids of a fixed group, for `new Counters(group, names)` with the same tuple: a counter is
 * counted as `c.v[NEIGH.table_fulls]++`, never by a bare index.
 */
export function counterIds<const T extends readonly string[]>(names: T): CounterIds<T> {
  // Made in one go, not by `o[n] = i` per name: V8 turns an object that gets more than 12
  // properties by keyed stores into a dictionary, and then every `m[IP.InReceives]++` on the hot
  // path is a LoadIC builtin call (seen in the router's perf profile, 4 per forwarded packet).
  return Object.freeze(Object.fromEntries(names.map((n, i) => [n, i]))) as CounterIds<T>;
}

/**
 * A named set of counters in one Float64Array (exact up to 2^53, no overflow at line rate).
 * Names are the kernel's where one exists (InHdrErrors, RcvbufErrors, time_squeeze...).
 * Registration happens at setup; the hot path only does `c.v[id]++` (ids from counterIds() for a
 * fixed group, from id() for one that grows, like the graph's drop reasons).
 */
export class Counters {
  v: Float64Array;
  readonly names: string[] = [];
  private readonly ids = new Map<string, number>();

  constructor(
    readonly group: string,
    names: readonly string[] = [],
  ) {
    this.v = new Float64Array(Math.max(8, names.length));
    for (const n of names) this.id(n);
  }

  /** Id of a counter, registering it if new (setup time only: may reallocate). */
  id(name: string): number {
    let id = this.ids.get(name);
    if (id !== undefined) return id;
    id = this.names.length;
    this.names.push(name);
    this.ids.set(name, id);
    if (id >= this.v.length) this.v = grown(this.v, this.v.length * 2);
    return id;
  }

  get(name: string): number {
    const id = this.ids.get(name);
    return id === undefined ? 0 : this.v[id];
  }

  toJSON(): Record<string, number> {
    const o: Record<string, number> = {};
    for (let i = 0; i < this.names.length; i++) o[this.names[i]] = this.v[i];
    return o;
  }

  reset(): void {
    this.v.fill(0);
  }
}
