// Fixtures for the L2 unit tests: a graph with a recording `dev-xmit`, memory ports,
// crafted ARP and IPv4 frames (buildFrame with the L2 tests' addresses), a fake clock.
import { Batch } from '../../src/core/batch.ts';
import { Graph, type Stage } from '../../src/core/graph.ts';
import { NetDevices } from '../../src/core/netdev.ts';
import { FramePool } from '../../src/driver/pool.ts';
import { MemoryPort } from '../../src/driver/memory.ts';
import { memoryUmem } from '../../src/driver/umem.ts';
import { registerL2, type L2 } from '../../src/l2/index.ts';
import type { NeighOptions } from '../../src/l2/neighbour.ts';
import { parseIPv4, parseMac } from '../../src/wire/addr.ts';
import { ARP_HLN, ARP_HRD, ARP_PLN, ARP_PRO, ARPOP_REPLY, ARPOP_REQUEST } from '../../src/wire/arp.ts';
import { ETH_HLEN, VLAN_HLEN } from '../../src/wire/ethernet.ts';
import { buildFrame } from '../../src/wire/frame.ts';
import { IPPROTO_UDP } from '../../src/wire/ipv4.ts';

export interface Sent {
  bytes: Uint8Array;
  oif: number;
  l3: number;
}

/** Stands in for dev-xmit: copies each frame out and frees it. */
export class RecordingXmit implements Stage {
  readonly name = 'dev-xmit';
  readonly sent: Sent[] = [];
  private g!: Graph;
  init(g: Graph): void {
    this.g = g;
  }
  run(b: Batch, v: Uint16Array, n: number): void {
    const u8 = this.g.pool.umem.u8;
    for (let j = 0; j < n; j++) {
      const i = v[j];
      this.sent.push({ bytes: u8.slice(b.addr[i], b.addr[i] + b.len[i]), oif: b.oif[i], l3: b.l3[i] });
      this.g.pool.free(b.addr[i]);
    }
  }
  take(): Sent[] {
    return this.sent.splice(0);
  }
}

export const OUR_MAC = '02:00:00:00:00:01';
export const PEER_MAC = '02:00:00:00:00:99';
export const OUR_IP = parseIPv4('10.0.0.1');
export const PEER_IP = parseIPv4('10.0.0.2');

export interface Rig extends L2 {
  g: Graph;
  pool: FramePool;
  devs: NetDevices;
  xmit: RecordingXmit;
  clock: { now: number };
  /** Send crafted frames into `stage` (default arp-rcv) as if eth-input had set l3. */
  rx(frames: Uint8Array[], opts?: { stage?: string; iif?: number; l3?: number; pkttype?: number; oif?: number; nh?: number }): void;
}

export function rig(opts: NeighOptions = {}, frames = 512): Rig {
  const umem = memoryUmem(frames);
  const pool = new FramePool(umem);
  const port = new MemoryPort('mem0', umem, pool, 64, 64, parseMac(OUR_MAC));
  const devs = new NetDevices();
  const p0 = devs.addPort('p0', port);
  p0.addrs.push({ addr: OUR_IP, prefixLen: 24 });
  const g = new Graph(pool, 64);
  const clock = { now: 1000 };
  const l2 = registerL2(g, devs, null, { clock: () => clock.now, random: () => 0.5, ...opts });
  const xmit = new RecordingXmit();
  g.add(xmit);
  g.seal();
  const b = new Batch(64);
  const rx: Rig['rx'] = (list, o = {}) => {
    b.n = 0;
    for (const f of list) {
      const a = pool.alloc();
      if (a < 0) throw new Error('test pool empty');
      umem.u8.set(f, a);
      const i = b.push(a, f.length, o.iif ?? 0);
      b.l3[i] = o.l3 ?? ETH_HLEN;
      b.pkttype[i] = o.pkttype ?? 0;
      b.oif[i] = o.oif ?? 0;
      b.nh[i] = o.nh ?? 0;
    }
    g.dispatch(b, g.id(o.stage ?? 'arp-rcv'));
  };
  return { ...l2, g, pool, devs, xmit, clock, rx };
}

export function mac(s: string): number[] {
  return [...parseMac(s)];
}

/**
 * An Ethernet + ARP frame from the peer (a broadcast request for our address unless told).
 * hrd/pro/hln/pln overwrite those fields of the well-formed header, to make it malformed.
 */
export function arpFrame(f: {
  op?: number;
  ethDst?: string;
  sha?: string;
  sip?: number;
  tha?: string;
  tip?: number;
  hrd?: number;
  pro?: number;
  hln?: number;
  pln?: number;
  /** Zero bytes after the ARP header (Ethernet padding). */
  pad?: number;
  /** An 802.1Q tag with this VID. */
  vlan?: number;
}): Uint8Array {
  const sha = f.sha ?? PEER_MAC;
  const arp = { op: f.op ?? ARPOP_REQUEST, sha, spa: f.sip ?? PEER_IP, tha: f.tha ?? '00:00:00:00:00:00', tpa: f.tip ?? OUR_IP };
  const frame = buildFrame({ dstMac: f.ethDst ?? 'ff:ff:ff:ff:ff:ff', srcMac: sha, vlan: f.vlan, arp, payload: f.pad ?? 0 });
  const a = ETH_HLEN + (f.vlan === undefined ? 0 : VLAN_HLEN);
  const dv = new DataView(frame.buffer);
  if (f.hrd !== undefined) dv.setUint16(a + ARP_HRD, f.hrd);
  if (f.pro !== undefined) dv.setUint16(a + ARP_PRO, f.pro);
  if (f.hln !== undefined) dv.setUint8(a + ARP_HLN, f.hln);
  if (f.pln !== undefined) dv.setUint8(a + ARP_PLN, f.pln);
  return frame;
}

/**
 * An IPv4 packet from us to `dst` (UDP, `payload` bytes after the IP header, the first one
 * `tag`), behind `l3` bytes of room filled with 0xee: neigh-output must write the link header.
 */
export function ipFrame(dst: number, l3 = ETH_HLEN, payload = 8, tag = 0): Uint8Array {
  const data = new Uint8Array(payload);
  data[0] = tag;
  const dgram = buildFrame({ ip: { src: OUR_IP, dst, proto: IPPROTO_UDP }, payload: data }).subarray(ETH_HLEN);
  const f = new Uint8Array(l3 + dgram.length).fill(0xee, 0, l3);
  f.set(dgram, l3);
  return f;
}

/** A unicast ARP reply from a peer to us. */
export function replyFrom(sip: number, sha: string): Uint8Array {
  return arpFrame({ op: ARPOP_REPLY, ethDst: OUR_MAC, sha, sip, tha: OUR_MAC, tip: OUR_IP });
}
