// Fixtures for the IPv4 unit tests: a graph with the IPv4 stages, two memory-port
// devices with addresses, a capture stage standing in for L2's `neigh-output`, and packet builders.
import { Batch, PACKET_HOST } from '../../src/core/batch.ts';
import { Graph, type Stage } from '../../src/core/graph.ts';
import { NetDevices } from '../../src/core/netdev.ts';
import { MemoryPort } from '../../src/driver/memory.ts';
import { parseIPv4 } from '../../src/wire/addr.ts';
import { csumFinish, csumFold, csumPartial } from '../../src/wire/checksum.ts';
import { registerIpv4, type Ipv4, type Ipv4Options } from '../../src/ipv4/index.ts';

export const ip = parseIPv4;

export interface Sent {
  bytes: Uint8Array; // from the IP header to the end of the datagram
  oif: number;
  nh: number;
  l3: number;
}

/** Stand-in for `neigh-output`: records what would be transmitted and frees the frame. */
export class Capture implements Stage {
  readonly name = 'neigh-output';
  readonly sent: Sent[] = [];
  constructor(private readonly g: () => Graph) {}
  run(b: Batch, v: Uint16Array, n: number): void {
    const u8 = this.g().pool.umem.u8;
    for (let j = 0; j < n; j++) {
      const i = v[j];
      const a = b.addr[i];
      this.sent.push({ bytes: u8.slice(a + b.l3[i], a + b.len[i]), oif: b.oif[i], nh: b.nh[i], l3: b.l3[i] });
      this.g().pool.free(a);
    }
  }
}

export interface Lab {
  g: Graph;
  ipv4: Ipv4;
  devs: NetDevices;
  cap: Capture;
  b: Batch;
  clock: { t: number };
  /** Receive one frame (Ethernet header included) on device iif. */
  rx(frame: Uint8Array, iif?: number, pkttype?: number): void;
  rxMany(frames: Uint8Array[], iif?: number): void;
  take(): Sent[];
  drops(name: string): number;
  ipMib(name: string): number;
  icmpMib(name: string): number;
  /** Frames not free and not held by IPv4 (must be 0 after every dispatch). */
  leaked(): number;
}

/** p0 10.1.0.1/24, p1 10.2.0.1/24 (mtu configurable), route 10.3.0.0/16 via 10.2.0.2. */
export function lab(opts: Ipv4Options & { mtu1?: number; frames?: number } = {}): Lab {
  const [p0, p1] = MemoryPort.pair(opts.frames ?? 1024);
  const pool = p0.pool;
  const g = new Graph(pool);
  const devs = new NetDevices();
  devs.addPort('p0', p0, 1500);
  devs.addPort('p1', p1, opts.mtu1 ?? 1500);
  const clock = { t: 1_000_000 };
  const ptype = { types: [] as number[], add(t: number) { this.types.push(t); } };
  const ipv4 = registerIpv4(g, devs, ptype, { now: () => clock.t, ...opts });
  const cap = new Capture(() => g);
  g.add(cap);
  ipv4.addAddress(0, ip('10.1.0.1'), 24);
  ipv4.addAddress(1, ip('10.2.0.1'), 24);
  ipv4.fib.add({ prefix: ip('10.3.0.0'), len: 16, type: 1, gateway: ip('10.2.0.2'), oif: -1, metric: 0, proto: 'static' });
  g.seal();
  const b = new Batch(256);
  const entry = g.id('ip-rcv');
  const rxMany = (frames: Uint8Array[], iif = 0, pkttype = PACKET_HOST) => {
    b.n = 0;
    for (const f of frames) {
      const a = pool.alloc();
      if (a < 0) throw new Error('test pool empty');
      pool.umem.u8.set(f, a);
      const i = b.push(a, f.length, iif);
      b.l3[i] = 14;
      b.pkttype[i] = pkttype;
    }
    g.dispatch(b, entry);
    b.n = 0;
  };
  return {
    g,
    ipv4,
    devs,
    cap,
    b,
    clock,
    rx: (f, iif = 0, pkttype = PACKET_HOST) => rxMany([f], iif, pkttype),
    rxMany: (fs, iif = 0) => rxMany(fs, iif),
    take: () => cap.sent.splice(0),
    drops: (name) => g.drops.get(name),
    ipMib: (name) => ipv4.mib.ip.get(name),
    icmpMib: (name) => ipv4.mib.icmp.get(name),
    leaked: () => pool.total - pool.available - ipv4.held(),
  };
}

export interface IpSpec {
  src?: string | number;
  dst?: string | number;
  proto?: number;
  ttl?: number;
  id?: number;
  tos?: number;
  df?: boolean;
  mf?: boolean;
  /** Fragment offset in bytes (multiple of 8). */
  fragOff?: number;
  options?: number[];
  payload?: Uint8Array;
  /** Ethernet padding bytes after the datagram. */
  pad?: number;
}

const addrOf = (x: string | number | undefined, d: string) => (typeof x === 'number' ? x >>> 0 : ip(x ?? d));

/** An Ethernet frame carrying an IPv4 datagram with a correct header checksum. */
export function ipFrame(s: IpSpec = {}): Uint8Array {
  const opts = s.options ?? [];
  const olen = (opts.length + 3) & ~3;
  const ihl = 20 + olen;
  const payload = s.payload ?? new Uint8Array(0);
  const tot = ihl + payload.length;
  const f = new Uint8Array(14 + tot + (s.pad ?? 0));
  const dv = new DataView(f.buffer);
  f.set([0x02, 0, 0, 0, 0, 0xa0, 0x02, 0, 0, 0, 0, 0x01], 0);
  dv.setUint16(12, 0x0800);
  const h = 14;
  f[h] = 0x40 | (ihl >> 2);
  f[h + 1] = s.tos ?? 0;
  dv.setUint16(h + 2, tot);
  dv.setUint16(h + 4, s.id ?? 0x1234);
  dv.setUint16(h + 6, (s.df ? 0x4000 : 0) | (s.mf ? 0x2000 : 0) | ((s.fragOff ?? 0) >> 3));
  f[h + 8] = s.ttl ?? 64;
  f[h + 9] = s.proto ?? 17;
  dv.setUint32(h + 12, addrOf(s.src, '10.1.0.2'));
  dv.setUint32(h + 16, addrOf(s.dst, '10.2.0.2'));
  f.set(opts, h + 20);
  f.set(payload, h + ihl);
  fixIpCsum(f);
  return f;
}

export function fixIpCsum(f: Uint8Array, h = 14): void {
  const dv = new DataView(f.buffer, f.byteOffset);
  const ihl = (f[h] & 15) * 4;
  dv.setUint16(h + 10, 0);
  dv.setUint16(h + 10, csumFinish(csumPartial(dv, h, ihl, 0)));
}

/** ICMP message bytes (type, code, id/seq or rest, data) with a correct checksum. */
export function icmpMsg(type: number, code: number, rest: number, data: Uint8Array): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  const dv = new DataView(m.buffer);
  m[0] = type;
  m[1] = code;
  dv.setUint32(4, rest >>> 0);
  m.set(data, 8);
  dv.setUint16(2, csumFinish(csumPartial(dv, 0, m.length, 0)));
  return m;
}

export function pattern(n: number, seed = 1): Uint8Array {
  const p = new Uint8Array(n);
  let x = seed;
  for (let k = 0; k < n; k++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    p[k] = x >>> 24;
  }
  return p;
}

/** Checksum of bytes folds to 0xffff (i.e. it is valid). */
export function csumOk(bytes: Uint8Array): boolean {
  return csumFold(csumPartial(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0, bytes.length, 0)) === 0xffff;
}

/** Parse an IPv4 datagram (bytes from the IP header). */
export function parseIp(d: Uint8Array) {
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const ihl = (d[0] & 15) * 4;
  return {
    version: d[0] >> 4,
    ihl,
    tos: d[1],
    totLen: dv.getUint16(2),
    id: dv.getUint16(4),
    df: (dv.getUint16(6) & 0x4000) !== 0,
    mf: (dv.getUint16(6) & 0x2000) !== 0,
    fragOff: (dv.getUint16(6) & 0x1fff) * 8,
    ttl: d[8],
    proto: d[9],
    src: dv.getUint32(12),
    dst: dv.getUint32(16),
    hdrOk: csumOk(d.subarray(0, ihl)),
    payload: d.subarray(ihl, dv.getUint16(2)),
  };
}
