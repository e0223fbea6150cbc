// The core stage graph on two linked memory ports, a recording sink stage, and frame builders,
// for the core unit tests.
import { Batch } from '../../src/core/batch.ts';
import { DevXmit } from '../../src/core/dev-xmit.ts';
import { EthInput } from '../../src/core/eth-input.ts';
import { Graph, type Stage } from '../../src/core/graph.ts';
import { Napi, type NapiOptions } from '../../src/core/napi.ts';
import { NetDevices } from '../../src/core/netdev.ts';
import { PtypeTable } from '../../src/core/ptype.ts';
import { Taps } from '../../src/core/taps.ts';
import { XdpHook } from '../../src/core/xdp.ts';
import { MemoryPort } from '../../src/driver/memory.ts';

export const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
export const MAC_A = [0x02, 0, 0, 0, 0, 0xa0];
export const MAC_B = [0x02, 0, 0, 0, 0, 0xb0];
export const MAC_PEER = [0x02, 0, 0, 0, 0, 0x99];

export function eth(dst: number[], src: number[], type: number, payload: Uint8Array | number[] = [], vlan = -1): Uint8Array {
  const tag = vlan >= 0 ? 4 : 0;
  const f = new Uint8Array(14 + tag + payload.length);
  f.set(dst, 0);
  f.set(src, 6);
  const dv = new DataView(f.buffer);
  if (vlan >= 0) {
    dv.setUint16(12, 0x8100);
    dv.setUint16(14, vlan);
  }
  dv.setUint16(12 + tag, type);
  f.set(payload, 14 + tag);
  return f;
}

export function ip(addr: string): number {
  return addr.split('.').reduce((a, x) => ((a << 8) | Number(x)) >>> 0, 0);
}

/** IPv4 header (no options, checksum left 0: the core does not check it) + L4 bytes. */
export function ipv4(proto: number, src: string, dst: string, l4: Uint8Array | number[], fragOff = 0): Uint8Array {
  const p = new Uint8Array(20 + l4.length);
  const dv = new DataView(p.buffer);
  p[0] = 0x45;
  dv.setUint16(2, p.length);
  dv.setUint16(6, fragOff);
  p[8] = 64;
  p[9] = proto;
  dv.setUint32(12, ip(src));
  dv.setUint32(16, ip(dst));
  p.set(l4, 20);
  return p;
}

export function udp(sport: number, dport: number, payload = 18): Uint8Array {
  const u = new Uint8Array(8 + payload);
  const dv = new DataView(u.buffer);
  dv.setUint16(0, sport);
  dv.setUint16(2, dport);
  dv.setUint16(4, u.length);
  return u;
}

export function tcp(sport: number, dport: number, flags: number): Uint8Array {
  const t = new Uint8Array(20);
  const dv = new DataView(t.buffer);
  dv.setUint16(0, sport);
  dv.setUint16(2, dport);
  t[12] = 5 << 4;
  t[13] = flags;
  return t;
}

export function udpFrame(dport: number, src = '10.0.0.2', dst = MAC_A, vlan = -1): Uint8Array {
  return eth(dst, MAC_PEER, 0x0800, ipv4(17, src, '10.0.0.1', udp(4000, dport)), vlan);
}

export function synFrame(src: string, flags = 0x02): Uint8Array {
  return eth(MAC_A, MAC_PEER, 0x0800, ipv4(6, src, '10.0.0.1', tcp(40000, 80, flags)));
}

/** A stage that records what reaches it, then frees the frame (a socket taking it). */
export class Sink implements Stage {
  seen: Array<{ iif: number; vlan: number; l3: number; pkttype: number; len: number; type: number }> = [];
  count = 0;
  record = true;
  private g!: Graph;
  constructor(readonly name: string) {}
  init(g: Graph): void {
    this.g = g;
  }
  run(b: Batch, v: Uint16Array, n: number): void {
    const dv = this.g.pool.umem.dv;
    for (let j = 0; j < n; j++) {
      const i = v[j];
      this.count++;
      if (this.record) {
        this.seen.push({ iif: b.iif[i], vlan: b.vlan[i], l3: b.l3[i], pkttype: b.pkttype[i], len: b.len[i], type: dv.getUint16(b.addr[i] + b.l3[i] - 2) });
      }
      this.g.pool.free(b.addr[i]);
    }
  }
}

/** Two linked memory ports (mem0 = device 0, mem1 = device 1) and the whole core graph. */
export function stack(opts: NapiOptions & { frames?: number } = {}) {
  const [a, b] = MemoryPort.pair(opts.frames ?? 4096);
  const pool = a.pool;
  const devs = new NetDevices();
  const d0 = devs.addPort('mem0', a);
  const d1 = devs.addPort('mem1', b);
  const graph = new Graph(pool);
  const ptype = new PtypeTable();
  const taps = new Taps();
  const ethIn = new EthInput(devs, ptype);
  const xdp = new XdpHook(devs);
  const xmit = new DevXmit(devs, taps);
  graph.add(xdp);
  graph.add(ethIn);
  graph.add(xmit);
  const napi = new Napi(graph, devs, { ...opts, xdp, taps });
  napi.add(d0);
  napi.add(d1);
  return { a, b, pool, devs, d0, d1, graph, ptype, taps, ethIn, xdp, xmit, napi };
}

export function drops(graph: Graph): Record<string, number> {
  const o = graph.drops.toJSON();
  for (const k of Object.keys(o)) if (o[k] === 0) delete o[k];
  return o;
}

export { Batch };
