/**
 * Maps for XDP-style filters (`defineMap`, the kernel's BPF maps seen from a filter): state
 * kept across packets in a shape the compiler (src/bpf) turns into a real kernel map. When the
 * filter runs in JS the map lives here (a typed array or a Map); when it runs in the kernel the
 * same object is bound to the kernel map (src/bpf/kernel-map.ts), so control-plane code reads and
 * writes what the program sees. Keys and values are integers of a declared kind, stored as the
 * kernel stores them (a u16 value keeps the low 16 bits, like a Uint16Array).
 */

export type MapType = 'hash' | 'array' | 'percpu_array' | 'lru_hash';
/** Integer kinds a key or value field may have; i64 holds integers within ±2^53. */
export type MapKind = 'u8' | 'u16' | 'u32' | 'i32' | 'i64';

export interface MapSpec {
  type: MapType;
  key: MapKind;
  /** One integer, or a record of named integer fields (laid out in order, each aligned to its size). */
  value: MapKind | Record<string, MapKind>;
  maxEntries: number;
}

export interface MapField {
  name: string;
  kind: MapKind;
  /** Byte offset in the value, and size. */
  off: number;
  size: 1 | 2 | 4 | 8;
}

export const KIND_SIZE: Record<MapKind, 1 | 2 | 4 | 8> = { u8: 1, u16: 2, u32: 4, i32: 4, i64: 8 };
export const MAP_TYPES: readonly MapType[] = ['hash', 'array', 'percpu_array', 'lru_hash'];
/** Fields of a record value (kept small: the compiled program builds a value on its stack). */
export const MAX_FIELDS = 8;

/** What a stored integer becomes (ToUint8/16/32, ToInt32; i64 as is), like a typed array store. */
export function conv(kind: MapKind, v: number): number {
  switch (kind) {
    case 'u8':
      return v & 0xff;
    case 'u16':
      return v & 0xffff;
    case 'u32':
      return v >>> 0;
    case 'i32':
      return v | 0;
    case 'i64':
      return v;
  }
}

/** The value's layout: fields, their offsets, the value size (rounded to 8). */
export function layout(spec: MapSpec): { fields: MapField[]; size: number; scalar: boolean } {
  const scalar = typeof spec.value === 'string';
  const entries: Array<[string, MapKind]> = scalar ? [['', spec.value as MapKind]] : Object.entries(spec.value as Record<string, MapKind>);
  const fields: MapField[] = [];
  let off = 0;
  for (const [name, kind] of entries) {
    const size = KIND_SIZE[kind];
    off = (off + size - 1) & ~(size - 1);
    fields.push({ name, kind, off, size });
    off += size;
  }
  return { fields, size: scalar ? off : (off + 7) & ~7, scalar };
}

/** Where a map's entries live: in JS, or in a kernel map (src/bpf/kernel-map.ts). */
export interface MapBackend {
  /** Field `f` of `key`'s value, 0 when there is no entry. */
  get(key: number, f: number): number;
  has(key: number): boolean;
  /** Set field `f` (creating the entry, other fields 0, if needed); false if the map refused (full, out of range). */
  set(key: number, f: number, v: number): boolean;
  delete(key: number): boolean;
  /** Every entry: key and its fields. */
  entries(): Array<[number, number[]]>;
}

/** The JS backing: arrays as one Float64Array, hashes as a Map; LRU evicts the least recently used. */
export class JsMapBackend implements MapBackend {
  private readonly arr: Float64Array | null;
  private readonly hash: Map<number, Float64Array> | null;
  private readonly nf: number;
  /** Entries an LRU map pushed out to make room (table pressure). */
  evictions = 0;

  constructor(readonly spec: MapSpec, readonly fields: MapField[]) {
    this.nf = fields.length;
    const isArray = spec.type === 'array' || spec.type === 'percpu_array';
    this.arr = isArray ? new Float64Array(spec.maxEntries * this.nf) : null;
    this.hash = isArray ? null : new Map();
  }

  get(key: number, f: number): number {
    if (this.arr !== null) return key >= 0 && key < this.spec.maxEntries ? this.arr[key * this.nf + f] : 0;
    const v = this.hash!.get(key);
    if (v === undefined) return 0;
    this.touch(key, v);
    return v[f];
  }

  has(key: number): boolean {
    if (this.arr !== null) return key >= 0 && key < this.spec.maxEntries;
    const v = this.hash!.get(key);
    if (v === undefined) return false;
    this.touch(key, v);
    return true;
  }

  set(key: number, f: number, v: number): boolean {
    if (this.arr !== null) {
      if (key < 0 || key >= this.spec.maxEntries) return false;
      this.arr[key * this.nf + f] = v;
      return true;
    }
    const h = this.hash!;
    let e = h.get(key);
    if (e === undefined) {
      if (h.size >= this.spec.maxEntries) {
        if (this.spec.type !== 'lru_hash') return false; // the kernel's E2BIG
        // Map iterates in insertion order and touch() re-inserts: the first key is the oldest.
        h.delete(h.keys().next().value as number);
        this.evictions++;
      }
      e = new Float64Array(this.nf);
      h.set(key, e);
    } else this.touch(key, e);
    e[f] = v;
    return true;
  }

  delete(key: number): boolean {
    // Array entries always exist (the kernel refuses the delete).
    return this.hash !== null && this.hash.delete(key);
  }

  entries(): Array<[number, number[]]> {
    if (this.arr !== null) {
      const out: Array<[number, number[]]> = [];
      for (let k = 0; k < this.spec.maxEntries; k++) out.push([k, Array.from(this.arr.subarray(k * this.nf, (k + 1) * this.nf))]);
      return out;
    }
    return [...this.hash!].map(([k, v]) => [k, Array.from(v)]);
  }

  private touch(key: number, v: Float64Array): void {
    if (this.spec.type !== 'lru_hash') return;
    const h = this.hash!;
    h.delete(key);
    h.set(key, v);
  }
}

/**
 * A map a filter declares at module level: `const seen = defineMap({type: 'lru_hash', key:
 * 'u32', value: {tokens: 'i64', last: 'i64'}, maxEntries: 65536})`. In the filter:
 * `seen.get(k)` / `seen.get(k, 'field')` (0 when absent), `seen.has(k)`, `seen.set(k, v)` /
 * `seen.set(k, 'field', v)`, `seen.delete(k)`. Calls neither allocate nor throw on the packet
 * path; a set the map refuses (full hash map, array index out of range) does nothing, as in the kernel.
 */
export class XdpMap {
  readonly fields: MapField[];
  readonly valueSize: number;
  readonly keySize: 1 | 2 | 4 | 8;
  readonly scalar: boolean;
  backend: MapBackend;
  private readonly fieldIdx = new Map<string, number>();

  constructor(readonly spec: MapSpec) {
    checkSpec(spec);
    const l = layout(spec);
    this.fields = l.fields;
    this.valueSize = l.size;
    this.scalar = l.scalar;
    this.keySize = KIND_SIZE[spec.key];
    l.fields.forEach((f, i) => this.fieldIdx.set(f.name, i));
    this.backend = new JsMapBackend(spec, l.fields);
  }

  /** The value (or one field of a record value) of `key`; 0 when there is no entry. */
  get(key: number, field?: string): number {
    return this.backend.get(conv(this.spec.key, key), this.field(field));
  }

  has(key: number): boolean {
    return this.backend.has(conv(this.spec.key, key));
  }

  /** set(key, value) for a one-integer value, set(key, field, value) for a record. */
  set(key: number, a: number | string, b?: number): void {
    const f = typeof a === 'string' ? this.field(a) : this.field(undefined);
    const v = typeof a === 'string' ? b! : a;
    this.backend.set(conv(this.spec.key, key), f, conv(this.fields[f].kind, v));
  }

  delete(key: number): boolean {
    return this.backend.delete(conv(this.spec.key, key));
  }

  /** Entries an LRU map pushed out to make room, while the map is in JS (the kernel does not count them). */
  get evictions(): number {
    return this.backend instanceof JsMapBackend ? this.backend.evictions : 0;
  }

  /** Every entry: key -> value (a number, or a record of fields). For the control plane and tests. */
  entries(): Array<[number, number | Record<string, number>]> {
    return this.backend.entries().map(([k, v]) => [k, this.scalar ? v[0] : Object.fromEntries(this.fields.map((f, i) => [f.name, v[i]]))]);
  }

  /** Move to another backing (the kernel's map), copying what this one holds; returns the old one. */
  bind(to: MapBackend, copy = true): MapBackend {
    const old = this.backend;
    if (copy)
      for (const [k, v] of old.entries()) {
        if (v.every((x) => x === 0) && (this.spec.type === 'array' || this.spec.type === 'percpu_array')) continue;
        v.forEach((x, f) => to.set(k, f, x));
      }
    this.backend = to;
    return old;
  }

  private field(name: string | undefined): number {
    if (name === undefined) {
      if (!this.scalar) throw new Error(`xdp map: the value is a record (${this.fields.map((f) => f.name).join(', ')}): name the field`);
      return 0;
    }
    const i = this.fieldIdx.get(name);
    if (i === undefined) throw new Error(`xdp map: no field ${name} (${this.fields.map((f) => f.name).join(', ')})`);
    return i;
  }
}

function checkSpec(s: MapSpec): void {
  const kinds = Object.keys(KIND_SIZE);
  if (!MAP_TYPES.includes(s.type)) throw new Error(`defineMap: type ${String(s.type)} is not one of ${MAP_TYPES.join(', ')}`);
  if (!kinds.includes(s.key)) throw new Error(`defineMap: key ${String(s.key)} is not one of ${kinds.join(', ')}`);
  if ((s.type === 'array' || s.type === 'percpu_array') && s.key !== 'u32') throw new Error(`defineMap: an ${s.type}'s key is a u32 index (the kernel's)`);
  if (typeof s.value === 'string') {
    if (!kinds.includes(s.value)) throw new Error(`defineMap: value ${s.value} is not one of ${kinds.join(', ')}`);
  } else {
    const fs = Object.entries(s.value ?? {});
    if (fs.length === 0 || fs.length > MAX_FIELDS) throw new Error(`defineMap: a record value has 1..${MAX_FIELDS} fields`);
    for (const [n, k] of fs) if (!kinds.includes(k)) throw new Error(`defineMap: field ${n}: ${String(k)} is not one of ${kinds.join(', ')}`);
  }
  if (!Number.isInteger(s.maxEntries) || s.maxEntries < 1 || s.maxEntries > 1 << 24) throw new Error(`defineMap: maxEntries ${s.maxEntries} must be an integer in 1..${1 << 24}`);
}

/** While a filter module loads (loadXdpModule), the maps it makes, in order: paired with the compiler's by order. */
export const mapCollector: { maps: XdpMap[] | null } = { maps: null };

export function defineMap(spec: MapSpec): XdpMap {
  const m = new XdpMap(spec);
  mapCollector.maps?.push(m);
  return m;
}
