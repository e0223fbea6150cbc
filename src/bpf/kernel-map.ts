// A defineMap map backed by the kernel's BPF map (the MapBackend of src/core/xdp-map.ts): what
// the control plane reads and writes is what the compiled program sees. Keys and values are laid
// out as the program stores them (little-endian, fields at their offsets); a per-CPU array
// holds one value per possible CPU: get() sums them, set() puts the value on CPU 0 and zeros on
// the others (so the sum is what was set).
import { readFileSync } from 'node:fs';
import { KIND_SIZE, type MapBackend, type MapField, type MapSpec } from '../core/xdp-map.ts';
import { mapDelete, mapLookup, mapNextKey, mapUpdate } from './sys.ts';

let possible = 0;
/** Possible CPUs (/sys/devices/system/cpu/possible): the kernel's per-CPU value count. */
export function possibleCpus(): number {
  if (possible > 0) return possible;
  const s = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
  possible = 0;
  for (const part of s.split(',')) {
    const [a, b] = part.split('-').map(Number);
    possible = Math.max(possible, (b ?? a) + 1);
  }
  return possible;
}

export class KernelMapBackend implements MapBackend {
  private readonly key: Uint8Array;
  private readonly next: Uint8Array;
  private readonly val: Uint8Array;
  private readonly vdv: DataView;
  private readonly cpus: number;
  private readonly stride: number;

  constructor(
    readonly fd: number,
    readonly spec: MapSpec,
    readonly fields: MapField[],
    readonly valueSize: number,
  ) {
    const ks = KIND_SIZE[spec.key];
    this.key = new Uint8Array(ks);
    this.next = new Uint8Array(ks);
    this.cpus = spec.type === 'percpu_array' ? possibleCpus() : 1;
    this.stride = spec.type === 'percpu_array' ? (valueSize + 7) & ~7 : valueSize;
    this.val = new Uint8Array(this.stride * this.cpus);
    this.vdv = new DataView(this.val.buffer);
  }

  get(key: number, f: number): number {
    this.putKey(this.key, key);
    if (!mapLookup(this.fd, this.key, this.val)) return 0;
    let sum = 0;
    for (let c = 0; c < this.cpus; c++) sum += this.read(c * this.stride, this.fields[f]);
    return sum;
  }

  has(key: number): boolean {
    this.putKey(this.key, key);
    return mapLookup(this.fd, this.key, this.val);
  }

  set(key: number, f: number, v: number): boolean {
    this.putKey(this.key, key);
    if (!mapLookup(this.fd, this.key, this.val)) this.val.fill(0);
    for (let c = 0; c < this.cpus; c++) this.write(c * this.stride, this.fields[f], c === 0 ? v : 0);
    try {
      mapUpdate(this.fd, this.key, this.val);
      return true;
    } catch {
      return false; // full (E2BIG) or out of range: the map refuses, as the JS backing does
    }
  }

  delete(key: number): boolean {
    this.putKey(this.key, key);
    try {
      return mapDelete(this.fd, this.key);
    } catch {
      return false; // arrays refuse deletes (EINVAL)
    }
  }

  entries(): Array<[number, number[]]> {
    const out: Array<[number, number[]]> = [];
    let prev: Uint8Array | null = null;
    const cur = new Uint8Array(this.key.length);
    while (mapNextKey(this.fd, prev, this.next)) {
      cur.set(this.next);
      const k = this.readKey(cur);
      if (mapLookup(this.fd, cur, this.val))
        out.push([k, this.fields.map((fl) => {
          let sum = 0;
          for (let c = 0; c < this.cpus; c++) sum += this.read(c * this.stride, fl);
          return sum;
        })]);
      prev = new Uint8Array(cur);
    }
    return out;
  }

  private putKey(b: Uint8Array, k: number): void {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    switch (this.spec.key) {
      case 'u8':
        dv.setUint8(0, k);
        break;
      case 'u16':
        dv.setUint16(0, k, true);
        break;
      case 'u32':
        dv.setUint32(0, k, true);
        break;
      case 'i32':
        dv.setInt32(0, k, true);
        break;
      case 'i64':
        dv.setBigInt64(0, BigInt(k), true);
        break;
    }
  }

  private readKey(b: Uint8Array): number {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    switch (this.spec.key) {
      case 'u8':
        return dv.getUint8(0);
      case 'u16':
        return dv.getUint16(0, true);
      case 'u32':
        return dv.getUint32(0, true);
      case 'i32':
        return dv.getInt32(0, true);
      case 'i64':
        return Number(dv.getBigInt64(0, true));
    }
  }

  private read(base: number, f: MapField): number {
    const dv = this.vdv;
    const at = base + f.off;
    switch (f.kind) {
      case 'u8':
        return dv.getUint8(at);
      case 'u16':
        return dv.getUint16(at, true);
      case 'u32':
        return dv.getUint32(at, true);
      case 'i32':
        return dv.getInt32(at, true);
      case 'i64':
        return Number(dv.getBigInt64(at, true));
    }
  }

  private write(base: number, f: MapField, v: number): void {
    const dv = this.vdv;
    const at = base + f.off;
    switch (f.kind) {
      case 'u8':
        return dv.setUint8(at, v);
      case 'u16':
        return dv.setUint16(at, v, true);
      case 'u32':
        return dv.setUint32(at, v, true);
      case 'i32':
        return dv.setInt32(at, v, true);
      case 'i64':
        return dv.setBigInt64(at, BigInt(v), true);
    }
  }
}
