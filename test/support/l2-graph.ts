// Fixtures for the L2 unit tests: a graph with a recording `dev-xmit`, memory ports,
// crafted ARP and IPv4 frames, a fake clock.
import { Batch } from '../../src/core/batch.ts';
import { Graph, type Stage } from '../../src/core/graph.ts';
import { NetDevices } from '../../src/core/netdev.ts';
import { FramePool } from '../../src/driver/pool.ts';
import { MemoryPort } from '../../src/driver/memory.ts';
import { memoryUmem } from '../../src/driver/umem.ts';
import { registerL2, type L2 } from '../../src/l2/index.ts';
import type { NeighOptions } from '../../src/l2/neighbour.ts';
import { parseIPv4, parseMac } from '../../src/wire/addr.ts';

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
      b.l3[i] = o.l3 ?? 14;
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

function ip4(x: number): number[] {
  return [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255];
}

/** An Ethernet + ARP frame; fields can be overridden to make it malformed. */
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
  pad?: number;
}): Uint8Array {
  const sha = f.sha ?? PEER_MAC;
  const bytes = [
    ...mac(f.ethDst ?? 'ff:ff:ff:ff:ff:ff'),
    ...mac(sha),
    0x08,
    0x06,
    (f.hrd ?? 1) >> 8,
    (f.hrd ?? 1) & 255,
    (f.pro ?? 0x0800) >> 8,
    (f.pro ?? 0x0800) & 255,
    f.hln ?? 6,
    f.pln ?? 4,
    0,
    f.op ?? 1,
    ...mac(sha),
    ...ip4(f.sip ?? PEER_IP),
    ...mac(f.tha ?? '00:00:00:00:00:00'),
    ...ip4(f.tip ?? OUR_IP),
  ];
  for (let k = 0; k < (f.pad ?? 0); k++) bytes.push(0);
  return Uint8Array.from(bytes);
}

/** A minimal IPv4/UDP packet behind `l3` bytes of room (the Ethernet header is garbage). */
export function ipFrame(dst: number, l3 = 14, payload = 8, tag = 0): Uint8Array {
  const f = new Uint8Array(l3 + 20 + payload);
  f.fill(0xee, 0, l3);
  const h = l3;
  f[h] = 0x45;
  f[h + 2] = (20 + payload) >> 8;
  f[h + 3] = (20 + payload) & 255;
  f[h + 8] = 64;
  f[h + 9] = 17;
  f.set(ip4(OUR_IP), h + 12);
  f.set(ip4(dst), h + 16);
  f[h + 20] = tag;
  return f;
}

/** A unicast ARP reply from a peer to us. */
export function replyFrom(sip: number, sha: string): Uint8Array {
  return arpFrame({ op: 2, ethDst: OUR_MAC, sha, sip, tha: OUR_MAC, tip: OUR_IP });
}
