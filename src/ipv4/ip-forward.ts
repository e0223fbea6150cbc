import * as batchMod from '../core/batch.ts';
import type { Batch } from '../core/batch.ts';
import type { Graph, Stage } from '../core/graph.ts';
import { ICMP_DEST_UNREACH, ICMP_EXC_TTL, ICMP_FRAG_NEEDED, ICMP_TIME_EXCEEDED } from '../wire/icmp.ts';
import * as ipv4 from '../wire/ipv4.ts';
import type { Ipv4Ctx } from './ctx.ts';
import type { IcmpSender } from './icmp-send.ts';
import { ipFragment } from './ip-fragment.ts';
import * as mib from './mib.ts';
import * as nfHooks from './nf-hooks.ts';
import type { NfHooks } from './nf-hooks.ts';
// Hot path: imported bindings as module-local consts (src/wire/README.md, "On the hot path").
const { IP_DF, IPV4_FRAG_OFF, IPV4_TTL, ipDecreaseTtl } = ipv4;
const { PACKET_HOST } = batchMod;
const { IP } = mib;
const { NF_ACCEPT, NF_INET_FORWARD, NF_INET_POST_ROUTING, NF_REPLY } = nfHooks;

/**
 * `ip-forward`: ip_forward + ip_forward_finish + ip_output for a packet routed by ip-rcv
 * (b.oif, b.nh set). In the kernel's order: not for us at L2 -> drop; TTL <= 1 -> ICMP time
 * exceeded; DF and longer than the egress MTU -> ICMP fragmentation needed with that MTU;
 * TTL decrement (RFC 1624 checksum patch); FORWARD; POSTROUTING; fragment if still too long;
 * -> neigh-output. The frame is never copied (except extra fragments).
 */
export class IpForward implements Stage {
  readonly name = 'ip-forward';
  private g!: Graph;
  private sNeigh = 0;
  private sOutput = 0;
  private rNotHost = 0;
  private rTtl = 0;
  private rFragFails = 0;
  private rNf = 0;
  private rNoDev = 0;

  constructor(
    private readonly ctx: Ipv4Ctx,
    private readonly nf: NfHooks,
    private readonly icmp: IcmpSender,
  ) {}

  init(g: Graph): void {
    this.g = g;
    this.sNeigh = g.id('neigh-output');
    this.sOutput = g.id('ip-output');
    this.rNotHost = g.reason('ip.forward_otherhost');
    this.rTtl = g.reason('ip.ttl_exceeded');
    this.rFragFails = g.reason('ip.FragFails');
    this.rNf = g.reason('netfilter.drop');
    this.rNoDev = g.reason('ip.OutDiscards');
  }

  run(b: Batch, v: Uint16Array, n: number): void {
    const g = this.g;
    const ctx = this.ctx;
    const u8 = ctx.u8;
    const dv = ctx.dv;
    const m = ctx.mib.ip.v;
    const devs = ctx.devs.list;
    const nfFwd = this.nf.on[NF_INET_FORWARD];
    const nfPost = this.nf.on[NF_INET_POST_ROUTING];
    const sNeigh = this.sNeigh;
    const addr = b.addr;
    const l3s = b.l3;
    const lens = b.len;
    const pkttype = b.pkttype;
    const oif = b.oif;
    for (let j = 0; j < n; j++) {
      const i = v[j];
      const l3 = l3s[i];
      const h = addr[i] + l3;
      if (pkttype[i] !== PACKET_HOST) {
        g.drop(b, i, this.rNotHost);
        continue;
      }
      if (u8[h + IPV4_TTL] <= 1) {
        this.tooManyHops(b, i);
        continue;
      }
      const dev = devs[oif[i]];
      if (dev === undefined) {
        m[IP.OutDiscards]++;
        g.drop(b, i, this.rNoDev);
        continue;
      }
      const mtu = dev.mtu;
      const tot = lens[i] - l3;
      if (tot > mtu && (dv.getUint16(h + IPV4_FRAG_OFF) & IP_DF) !== 0) {
        this.fragNeeded(b, i, mtu);
        continue;
      }
      ipDecreaseTtl(dv, h);
      if (nfFwd !== 0 && !this.hook(NF_INET_FORWARD, b, i)) continue;
      m[IP.ForwDatagrams]++;
      if (nfPost !== 0 && !this.hook(NF_INET_POST_ROUTING, b, i)) continue;
      if (tot > mtu) {
        if (ipFragment(ctx, g, b, i, mtu, sNeigh)) m[IP.OutTransmits]++;
        else g.drop(b, i, this.rFragFails);
        continue;
      }
      m[IP.OutTransmits]++;
      g.enqueue(sNeigh, i);
    }
  }

  /** true = accepted; otherwise the packet was dropped or turned into a reply here. */
  private hook(hook: number, b: Batch, i: number): boolean {
    const verdict = this.nf.run(hook, b, i);
    if (verdict === NF_ACCEPT) return true;
    if (verdict === NF_REPLY) this.g.enqueue(this.sOutput, i);
    else this.g.drop(b, i, this.rNf);
    return false;
  }

  /** Linux counts InHdrErrors here (too_many_hops) and answers time exceeded. */
  private tooManyHops(b: Batch, i: number): void {
    this.ctx.mib.ip.v[IP.InHdrErrors]++;
    if (this.icmp.send(b, i, ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, 0)) this.g.enqueue(this.sOutput, i);
    else this.g.drop(b, i, this.rTtl);
  }

  private fragNeeded(b: Batch, i: number, mtu: number): void {
    this.ctx.mib.ip.v[IP.FragFails]++;
    if (this.icmp.send(b, i, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu & 0xffff)) this.g.enqueue(this.sOutput, i);
    else this.g.drop(b, i, this.rFragFails);
  }
}
