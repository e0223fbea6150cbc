// A ping-pong load for the poll-loop tests: frames bounce between the two memory ports forever,
// through xdp (a PASS filter that reads a few fields), eth-input, a forwarding stage and dev-xmit.
import type { Batch } from '../../src/core/batch.ts';
import type { Graph, Stage } from '../../src/core/graph.ts';
import type { NetDevices } from '../../src/core/netdev.ts';
import { XDP_DROP, XDP_PASS, type XdpContext } from '../../src/core/xdp.ts';
import * as ethernet from '../../src/wire/ethernet.ts';
import { IPPROTO_UDP } from '../../src/wire/ipv4.ts';
import { MAC_A, stack, udpFrame } from './core-graph.ts';

// Module-local, as the per-packet stages do (src/wire/README.md).
const { ETH_DST, ETH_P_IP, macHi, macLo } = ethernet;

/** Sends each packet back out of its port with the destination MAC of the port at the far end. */
export class Bounce implements Stage {
  readonly name = 'bounce';
  private g!: Graph;
  private xmit = 0;
  private readonly hi = new Uint32Array(256);
  private readonly lo = new Uint16Array(256);
  constructor(private readonly devs: NetDevices) {}
  init(g: Graph): void {
    this.g = g;
    this.xmit = g.id('dev-xmit');
    for (const d of this.devs.list) {
      // The far end of port d is the other port of the pair (index d ^ 1).
      const m = this.devs.list[d.index ^ 1].mac;
      this.hi[d.index] = macHi(m);
      this.lo[d.index] = macLo(m);
    }
  }
  run(b: Batch, v: Uint16Array, n: number): void {
    const dv = this.g.pool.umem.dv;
    for (let j = 0; j < n; j++) {
      const i = v[j];
      const d = b.iif[i];
      const a = b.addr[i];
      dv.setUint32(a + ETH_DST, this.hi[d]);
      dv.setUint16(a + ETH_DST + 4, this.lo[d]);
      b.oif[i] = d;
      this.g.enqueue(this.xmit, i);
    }
  }
}

export function passFilter(ctx: XdpContext): number {
  // Reads like a real filter would; never drops these frames.
  return ctx.ipProto() === IPPROTO_UDP && ctx.l4Dport() === 0 ? XDP_DROP : XDP_PASS;
}

/** The core stack with the bounce load; `inFlight` frames injected on mem0 (for mem0's MAC). */
export function bounceStack(inFlight: number, opts: Parameters<typeof stack>[0] = {}) {
  const s = stack(opts);
  s.graph.add(new Bounce(s.devs));
  s.ptype.add(ETH_P_IP, 'bounce');
  s.xdp.attach(0, passFilter);
  s.xdp.attach(1, passFilter);
  const f = udpFrame(9, '10.0.0.2', MAC_A);
  for (let k = 0; k < inFlight; k++) if (!s.a.inject(f)) throw new Error('inject failed');
  return s;
}
