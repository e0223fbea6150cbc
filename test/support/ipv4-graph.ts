// Fixtures for the IPv4 unit tests: a graph with the IPv4 stages, two memory-port
// devices with addresses, a capture stage standing in for L2's `neigh-output`, frames (buildFrame
// with the lab's addresses) and a datagram parser over src/wire's accessors.
import { Batch, PACKET_HOST } from '../../src/core/batch.ts';
import { Graph, type Stage } from '../../src/core/graph.ts';
import { NetDevices } from '../../src/core/netdev.ts';
import { MemoryPort } from '../../src/driver/memory.ts';
import { parseIPv4 } from '../../src/wire/addr.ts';
import { csumFold, csumPartial } from '../../src/wire/checksum.ts';
import { ETH_HLEN } from '../../src/wire/ethernet.ts';
import { buildFrame, type FrameSpec, type Ipv4Spec } from '../../src/wire/frame.ts';
import { ICMP_HLEN, writeIcmpHeader } from '../../src/wire/icmp.ts';
import { IP_DF, IP_MF, IP_OFFSET, IPV4_ID, IPV4_TOS, IPV4_VIHL, ipDaddr, ipFragOff, ipIhl, ipProto, ipSaddr, ipTotLen, ipTtl } from '../../src/wire/ipv4.ts';
import { registerIpv4, type Ipv4, type Ipv4Options } from '../../src/ipv4/index.ts';

export const ip = parseIPv4;
/** p0's MAC as the lab's frames name it (the lab enters at ip-rcv: no one checks it). */
const LAB_MAC = '02:00:00:00:00:a0';

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
      b.l3[i] = ETH_HLEN;
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

/**
 * A datagram into the lab: an IPv4 spec (10.1.0.2 -> 10.2.0.2 unless told), an L4 header to
 * build if any, its payload and padding.
 */
export type IpSpec = Ipv4Spec & Pick<FrameSpec, 'udp' | 'tcp' | 'icmp'> & {
  payload?: Uint8Array;
  /** Ethernet padding bytes after the datagram. */
  pad?: number;
};

/** An Ethernet frame carrying an IPv4 datagram with a correct header checksum (protocol UDP unless told). */
export function ipFrame(s: IpSpec = {}): Uint8Array {
  const { payload, pad, udp, tcp, icmp, ...ip } = s;
  return buildFrame({ dstMac: LAB_MAC, ip: { ...ip, src: s.src ?? '10.1.0.2', dst: s.dst ?? '10.2.0.2' }, udp, tcp, icmp, payload, pad });
}

/** ICMP message bytes (type, code, id/seq or rest, data) with a correct checksum. */
export function icmpMsg(type: number, code: number, rest: number, data: Uint8Array): Uint8Array {
  const m = new Uint8Array(ICMP_HLEN + data.length);
  m.set(data, ICMP_HLEN);
  writeIcmpHeader(new DataView(m.buffer), 0, type, code, rest, m.length);
  return m;
}

/** Checksum of bytes folds to 0xffff (i.e. it is valid). */
export function csumOk(bytes: Uint8Array): boolean {
  return csumFold(csumPartial(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0, bytes.length, 0)) === 0xffff;
}

/** Parse an IPv4 datagram (bytes from the IP header). */
export function parseIp(d: Uint8Array) {
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const ihl = ipIhl(d, 0);
  const frag = ipFragOff(dv, 0);
  return {
    version: d[IPV4_VIHL] >> 4,
    ihl,
    tos: d[IPV4_TOS],
    totLen: ipTotLen(dv, 0),
    id: dv.getUint16(IPV4_ID),
    df: (frag & IP_DF) !== 0,
    mf: (frag & IP_MF) !== 0,
    fragOff: (frag & IP_OFFSET) * 8,
    ttl: ipTtl(d, 0),
    proto: ipProto(d, 0),
    src: ipSaddr(dv, 0),
    dst: ipDaddr(dv, 0),
    hdrOk: csumOk(d.subarray(0, ihl)),
    payload: d.subarray(ihl, ipTotLen(dv, 0)),
  };
}
