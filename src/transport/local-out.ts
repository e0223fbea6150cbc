import type { Batch } from '../core/batch.ts';
import type { Graph, Stage } from '../core/graph.ts';
import { RTN_BLACKHOLE, RTN_BROADCAST, RTN_PROHIBIT, RTN_UNICAST, RTN_UNREACHABLE } from '../ipv4/fib/types.ts';
import type { Ipv4 } from '../ipv4/index.ts';
import { Originate } from '../l2/originate.ts';
import { ETH_HLEN } from '../wire/ethernet.ts';

/** Where the IP header of a locally built packet starts in its frame: room for the Ethernet header. */
export const LL_RESERVE = ETH_HLEN;

/** What routeOutput found: the egress device, its MTU, the source address. Reused (no allocation per call). */
export interface OutRoute {
  saddr: number;
  daddr: number;
  oif: number;
  mtu: number;
  /** A (directed or limited) broadcast destination: the sender needs SO_BROADCAST. */
  broadcast: boolean;
}

/**
 * `ip-local-out` (ip_local_out / __ip_local_out) for packets the application side builds: UDP
 * datagrams, TCP segments. They are built outside any dispatch (an app's send) or inside one
 * (an ACK built by tcp-rcv), so they cannot join the batch being dispatched. A builder takes a
 * frame (alloc), writes the IP header at addr + LL_RESERVE and the payload after it, and push()es
 * it into a bounded ring; the ring enters the graph here, at this stage, which hands each packet
 * to `ip-output` (route, OUTPUT, POSTROUTING, fragmentation, neighbour).
 *
 * When the ring is dispatched:
 *  - after every dispatch (this stage's flush(), when re-entering the graph is safe: packets
 *    built inside a dispatch leave at its end);
 *  - on a microtask after the first push() outside a dispatch: an app's send goes out as soon as
 *    its synchronous code returns, and the sends of one loop leave as one batch (a microtask never
 *    runs inside a dispatch: dispatch is synchronous).
 *  - drain() directly, from code that knows it is not inside a stage's run().
 * The ring is bounded (`size` frames); room() says how many more packets fit now, so a builder
 * checks before it takes frames and reports ENOBUFS (SndbufErrors) instead of dropping later.
 */
export class LocalOut implements Stage {
  readonly name = 'ip-local-out';
  private readonly ring: Originate;
  private g: Graph;
  private sOutput = -1;
  private scheduled = false;
  /** Exceptions out of the graph while draining from a microtask (a stage bug): counted, logged once. */
  errors = 0;
  readonly route: OutRoute = { saddr: 0, daddr: 0, oif: -1, mtu: 0, broadcast: false };
  /** Largest IP datagram that fits in one frame after LL_RESERVE. */
  readonly maxIpLen: number;
  private readonly drainFn = (): void => {
    this.scheduled = false;
    try {
      this.ring.drain();
    } catch (e) {
      if (this.errors++ === 0) console.error(`ip-local-out: a stage threw (${e instanceof Error ? e.stack : String(e)}); frames of that batch may be lost`);
    }
  };

  constructor(
    g: Graph,
    private readonly ipv4: Ipv4,
    readonly size = 1024,
  ) {
    this.g = g;
    this.ring = new Originate(g, this.name, size);
    const u = g.pool.umem;
    this.maxIpLen = u.frameSize - u.headroom - LL_RESERVE;
  }

  init(g: Graph): void {
    this.g = g;
    this.sOutput = g.id('ip-output');
  }

  run(b: Batch, v: Uint16Array, n: number): void {
    const g = this.g;
    const s = this.sOutput;
    for (let j = 0; j < n; j++) g.enqueue(s, v[j]);
  }

  /** After a dispatch: packets built during it go out now. */
  flush(): void {
    if (this.ring.pending > 0) this.ring.drain();
  }

  /** Packets that may be pushed now (ring room and free frames). */
  room(): number {
    const r = this.size - this.ring.pending;
    const f = this.g.pool.available;
    return r < f ? r : f;
  }

  /** Packets waiting in the ring (frames held here, for the frame account). */
  get pending(): number {
    return this.ring.pending;
  }

  /** A frame for a packet (its data address; the IP header goes at + LL_RESERVE), -1 when the pool is empty. */
  alloc(): number {
    return this.g.pool.alloc();
  }

  /**
   * Queue a built packet: IP header at addr + LL_RESERVE, `len` bytes from addr (LL_RESERVE + IP
   * total length). Check room() first: a full ring frees the frame and counts softnet.originate_full.
   */
  push(addr: number, len: number): boolean {
    const ok = this.ring.push(addr, len, 0);
    if (ok && !this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.drainFn);
    }
    return ok;
  }

  /** Dispatch what is queued now. Never from inside a stage's run(). */
  drain(): void {
    this.ring.drain();
  }

  /** Free every queued frame (shutdown). */
  clear(): void {
    this.ring.clear();
  }

  /**
   * ip_route_output_key for a socket: the route to daddr, its device's MTU and the source address
   * (the socket's bound address `saddr` if not 0, else the route's preferred source or its
   * device's address). Fills this.route and returns null, or returns the errno name: ENETUNREACH
   * (no route, or a local destination: there is no loopback device), EHOSTUNREACH (unreachable
   * route), EACCES (prohibit), EINVAL (blackhole, as Linux).
   */
  routeOutput(daddr: number, saddr: number): string | null {
    daddr >>>= 0;
    const fib = this.ipv4.fib;
    const nh = fib.lookup(daddr);
    if (nh < 0) return 'ENETUNREACH';
    const type = fib.nhType[nh];
    if (type === RTN_BLACKHOLE) return 'EINVAL';
    if (type === RTN_PROHIBIT) return 'EACCES';
    if (type !== RTN_UNICAST && type !== RTN_BROADCAST) return type === RTN_UNREACHABLE ? 'EHOSTUNREACH' : 'ENETUNREACH';
    const oif = fib.nhOif[nh];
    const dev = oif < 0 ? undefined : this.ipv4.ctx.devs.list[oif];
    if (dev === undefined) return 'ENETUNREACH';
    const src = saddr !== 0 ? saddr >>> 0 : this.ipv4.sourceFor(daddr);
    if (src === 0) return 'EADDRNOTAVAIL';
    const r = this.route;
    r.saddr = src;
    r.daddr = daddr;
    r.oif = oif;
    r.mtu = dev.mtu;
    r.broadcast = type === RTN_BROADCAST || daddr === 0xffffffff;
    return null;
  }
}
