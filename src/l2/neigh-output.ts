import type { Batch } from '../core/batch.ts';
import type { Graph, Stage } from '../core/graph.ts';
import * as ethernet from '../wire/ethernet.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as neighbour from './neighbour.ts';
import type { NeighTable } from './neighbour.ts';
// Hot path: wire's bindings as module-local consts (src/wire/README.md, "On the hot path").
const { ETH_DST, ETH_HLEN, ETH_P_IP, ETH_SRC, ETH_TYPE } = ethernet;
const { IPV4_DADDR, IPV4_HLEN } = ipv4;
const { NUD_STALE, NUD_VALID } = neighbour;

/**
 * `neigh-output` (neigh_output / neigh_resolve_output): b.oif = egress device, b.nh = next hop
 * (host order, 0 = the IP destination), IP header at b.l3. A VALID entry: write the Ethernet
 * header in front of the IP header, make it the frame start (l3 = 14) and hand the packet to
 * dev-xmit. Otherwise the table takes the frame (queued while ARP resolves, or dropped and
 * counted) — see NeighTable.resolve. One clock read per batch, not per packet.
 */
export class NeighOutput implements Stage {
  readonly name = 'neigh-output';
  private g!: Graph;
  private dv: DataView = new DataView(new ArrayBuffer(0));
  private xmit = 0;
  private rBad = 0;
  private rDev = 0;

  constructor(readonly t: NeighTable) {}

  init(g: Graph): void {
    this.g = g;
    this.dv = g.pool.umem.dv;
    this.xmit = g.id('dev-xmit');
    this.rBad = g.reason('neigh.bad_offset');
    this.rDev = g.reason('neigh.no_device');
    this.t.attach(g);
  }

  run(b: Batch, v: Uint16Array, n: number): void {
    const t = this.t;
    const g = this.g;
    const dv = this.dv;
    const now = t.clock();
    const state = t.state;
    // One-entry cache per batch: forwarded traffic mostly goes to a few next hops (a gateway).
    // Reset per batch and after the slow path, which may remove entries.
    let lastDev = -1;
    let lastNh = 0;
    let lastE = -1;
    for (let j = 0; j < n; j++) {
      const i = v[j];
      const l3 = b.l3[i];
      const len = b.len[i];
      const addr = b.addr[i];
      if (l3 < ETH_HLEN || len < l3 + IPV4_HLEN) {
        g.drop(b, i, this.rBad);
        continue;
      }
      const dev = b.oif[i];
      if (dev >= t.known) {
        t.refreshDevs();
        if (dev >= t.known) {
          g.drop(b, i, this.rDev);
          continue;
        }
      }
      let nh = b.nh[i];
      if (nh === 0) nh = dv.getUint32(addr + l3 + IPV4_DADDR); // no gateway: the destination itself
      let e = lastE;
      if (nh !== lastNh || dev !== lastDev) {
        e = t.lookup(dev, nh);
        if (e < 0 || (state[e] & NUD_VALID) === 0) {
          lastDev = -1;
          e = t.resolve(dev, nh, addr, l3, len, now);
          if (e < 0) continue; // the table owns the frame now
        } else {
          lastDev = dev;
          lastNh = nh;
          lastE = e;
        }
        t.used[e] = now;
        if (state[e] === NUD_STALE) t.delay(e, now);
      }
      const delta = l3 - ETH_HLEN;
      const ea = addr + delta;
      if (delta !== 0) {
        b.addr[i] = ea;
        b.len[i] = len - delta;
        b.l3[i] = ETH_HLEN;
        if (b.l4[i] >= l3) b.l4[i] -= delta;
      }
      // The MACs as (hi u32, lo u16) pairs.
      dv.setUint32(ea + ETH_DST, t.hi[e]);
      dv.setUint16(ea + ETH_DST + 4, t.lo[e]);
      dv.setUint32(ea + ETH_SRC, t.devHi[dev]);
      dv.setUint16(ea + ETH_SRC + 4, t.devLo[dev]);
      dv.setUint16(ea + ETH_TYPE, ETH_P_IP);
      g.enqueue(this.xmit, i);
    }
  }

  /** After the dispatch: send ARP requests and released packets queued during it. */
  flush(): void {
    this.t.drain();
  }
}
