// The core stage graph on two linked memory ports, a recording sink stage, and the frames the
// core unit tests send (built with src/wire's buildFrame).
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
import { ETH_HLEN, ETH_TYPE } from '../../src/wire/ethernet.ts';
import { buildFrame } from '../../src/wire/frame.ts';
import { TCP_SYN } from '../../src/wire/tcp.ts';

export const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
export const MAC_A = [0x02, 0, 0, 0, 0, 0xa0];
export const MAC_B = [0x02, 0, 0, 0, 0, 0xb0];
export const MAC_PEER = [0x02, 0, 0, 0, 0, 0x99];

/** A UDP datagram 10.0.0.2:4000 -> 10.0.0.1 (18 bytes of data: a 60-byte frame), 802.1Q-tagged when vlan >= 0. */
export function udpFrame(dport: number, src = '10.0.0.2', dst = MAC_A, vlan = -1): Uint8Array {
  return buildFrame({ dstMac: dst, srcMac: MAC_PEER, vlan: vlan < 0 ? undefined : vlan, ip: { src, dst: '10.0.0.1' }, udp: { sport: 4000, dport }, payload: 18 });
}

/** A TCP segment src:40000 -> 10.0.0.1:80, a SYN unless told. */
export function synFrame(src: string, flags = TCP_SYN): Uint8Array {
  return buildFrame({ dstMac: MAC_A, srcMac: MAC_PEER, ip: { src, dst: '10.0.0.1' }, tcp: { sport: 40000, dport: 80, flags } });
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
        this.seen.push({ iif: b.iif[i], vlan: b.vlan[i], l3: b.l3[i], pkttype: b.pkttype[i], len: b.len[i], type: dv.getUint16(b.addr[i] + b.l3[i] - (ETH_HLEN - ETH_TYPE)) }); // the (inner) EtherType ends where L3 begins
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
