import type { Batch } from '../core/batch.ts';
import type { Graph, Stage } from '../core/graph.ts';
import * as ipv4 from '../wire/ipv4.ts';
import type { Ipv4Ctx } from './ctx.ts';
import * as fibTypes from './fib/types.ts';
import { ipFragment } from './ip-fragment.ts';
import { IP } from './mib.ts';
import { NF_ACCEPT, NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING, type NfHooks } from './nf-hooks.ts';
// Hot path: imported bindings as module-local consts (src/wire/README.md, "On the hot path").
const { IP_DF, IPV4_DADDR, IPV4_FRAG_OFF } = ipv4;
const { RTN_BROADCAST, RTN_UNICAST } = fibTypes;

/**
 * `ip-output`: ip_route_output + ip_local_out + ip_output for packets this stack builds or
 * reflects (ICMP errors and echo replies, later UDP/TCP): the IP header at b.l3 is complete
 * (checksum included). Looks up the route to the destination, sets b.oif/b.nh, runs OUTPUT and
 * POSTROUTING, fragments if DF is clear and the datagram exceeds the egress MTU, and hands the
 * packet to `neigh-output`. A REJECT in these hooks drops (Linux would answer itself).
 */
export class IpOutput implements Stage {
  readonly name = 'ip-output';
  private g!: Graph;
  private sNeigh = 0;
  private rNoRoute = 0;
  private rNf = 0;
  private rFragFails = 0;

  constructor(
    private readonly ctx: Ipv4Ctx,
    private readonly nf: NfHooks,
  ) {}

  init(g: Graph): void {
    this.g = g;
    this.sNeigh = g.id('neigh-output');
    this.rNoRoute = g.reason('ip.OutNoRoutes');
    this.rNf = g.reason('netfilter.drop');
    this.rFragFails = g.reason('ip.FragFails');
  }

  run(b: Batch, v: Uint16Array, n: number): void {
    const g = this.g;
    const ctx = this.ctx;
    const dv = ctx.dv;
    const fib = ctx.fib;
    const m = ctx.mib.ip.v;
    const devs = ctx.devs.list;
    const nf = this.nf;
    for (let j = 0; j < n; j++) {
      const i = v[j];
      const h = b.addr[i] + b.l3[i];
      const daddr = dv.getUint32(h + IPV4_DADDR);
      m[IP.OutRequests]++;
      const nh = fib.lookup(daddr);
      const type = nh < 0 ? 0 : fib.nhType[nh];
      const oif = nh < 0 ? -1 : fib.nhOif[nh];
      // Unicast and (directed) broadcast leave through a device; local, blackhole, unreachable
      // and prohibit routes have nowhere to send to (there is no loopback device).
      if ((type !== RTN_UNICAST && type !== RTN_BROADCAST) || oif < 0 || devs[oif] === undefined) {
        m[IP.OutNoRoutes]++;
        g.drop(b, i, this.rNoRoute);
        continue;
      }
      const gw = fib.nhGateway[nh];
      b.oif[i] = oif;
      b.nh[i] = gw === 0 ? daddr : gw;
      if (nf.on[NF_INET_LOCAL_OUT] !== 0) {
        if (nf.run(NF_INET_LOCAL_OUT, b, i) !== NF_ACCEPT) {
          g.drop(b, i, this.rNf);
          continue;
        }
        // ip_route_me_harder: a DNAT in OUTPUT changed the destination, so the route changes too
        if (dv.getUint32(h + IPV4_DADDR) !== daddr && !this.reroute(b, i, dv.getUint32(h + IPV4_DADDR))) continue;
      }
      if (nf.on[NF_INET_POST_ROUTING] !== 0 && nf.run(NF_INET_POST_ROUTING, b, i) !== NF_ACCEPT) {
        g.drop(b, i, this.rNf);
        continue;
      }
      const mtu = devs[oif].mtu;
      if (b.len[i] - b.l3[i] > mtu) {
        // A local sender with DF would get EMSGSIZE; here nobody is listening: count and drop.
        if ((dv.getUint16(h + IPV4_FRAG_OFF) & IP_DF) !== 0) {
          m[IP.FragFails]++;
          g.drop(b, i, this.rFragFails);
          continue;
        }
        if (ipFragment(ctx, g, b, i, mtu, this.sNeigh)) m[IP.OutTransmits]++;
        else g.drop(b, i, this.rFragFails);
        continue;
      }
      m[IP.OutTransmits]++;
      g.enqueue(this.sNeigh, i);
    }
  }

  /** The route to a new destination (after OUTPUT's DNAT); false: no route, dropped and counted. */
  private reroute(b: Batch, i: number, daddr: number): boolean {
    const fib = this.ctx.fib;
    const nh = fib.lookup(daddr);
    const type = nh < 0 ? 0 : fib.nhType[nh];
    const oif = nh < 0 ? -1 : fib.nhOif[nh];
    if ((type !== RTN_UNICAST && type !== RTN_BROADCAST) || oif < 0 || this.ctx.devs.list[oif] === undefined) {
      this.ctx.mib.ip.v[IP.OutNoRoutes]++;
      this.g.drop(b, i, this.rNoRoute);
      return false;
    }
    const gw = fib.nhGateway[nh];
    b.oif[i] = oif;
    b.nh[i] = gw === 0 ? daddr : gw;
    return true;
  }
}
