import * as batchMod from '../core/batch.ts';
import type { Batch } from '../core/batch.ts';
import type { Graph, Stage } from '../core/graph.ts';
import { ICMP_DEST_UNREACH, ICMP_NET_UNREACH, ICMP_PARAMETERPROB } from '../wire/icmp.ts';
import * as ipv4 from '../wire/ipv4.ts';
import { ipOptionsCompile, OPT_OK, OPT_SRR } from '../wire/ipv4-options.ts';
import * as ctxMod from './ctx.ts';
import type { Ipv4Ctx } from './ctx.ts';
import { CsumPartialRx } from './csum-partial.ts';
import * as fibTypes from './fib/types.ts';
import type { IcmpSender } from './icmp-send.ts';
import * as mib from './mib.ts';
import * as nfHooks from './nf-hooks.ts';
import type { NfHooks } from './nf-hooks.ts';
import * as route from './route-input.ts';
// Hot path: imported bindings as module-local consts (src/wire/README.md, "On the hot path").
const { IPV4_BAD_CSUM, IPV4_DADDR, IPV4_HLEN, IPV4_OK, IPV4_SADDR, IPV4_TOT_LEN, IPV4_TRUNCATED, IPV4_VIHL, ipv4Check } = ipv4;
const { RTCF_LOCAL } = ctxMod;
const { RTN_LOCAL, RTN_UNICAST } = fibTypes;
const { ROUTE_DROP_REASONS, ROUTE_FORWARD, ROUTE_ICMP, ROUTE_LOCAL, routeInput } = route;
const { PACKET_OTHERHOST } = batchMod;
const { IP } = mib;
const { NF_ACCEPT, NF_INET_PRE_ROUTING, NF_REPLY } = nfHooks;

/**
 * `ip-rcv`: ip_rcv_core (validation exactly in the kernel's order, never reading past b.len),
 * PREROUTING, then ip_rcv_finish (route input, options) — one stage, because every packet takes
 * all of it and a stage boundary costs a vector pass. Sets b.len (padding trimmed), b.l4, and
 * per route: -> ip-local-deliver (b.aux = RTCF flags), -> ip-forward (b.oif, b.nh),
 * -> ip-output (an ICMP error built in place), or a drop named after the kernel MIB.
 */
export class IpRcv implements Stage {
  readonly name = 'ip-rcv';
  private g!: Graph;
  private sLocal = 0;
  private sForward = 0;
  private sOutput = 0;
  private rHdr = 0;
  private rCsum = 0;
  private rTrunc = 0;
  private rOther = 0;
  private rSrr = 0;
  private rNf = 0;
  private rNoRoute = 0;
  private rUnreach = 0;
  private readonly rRoute = new Int32Array(ROUTE_DROP_REASONS.length);
  /** Ports whose frames may carry partial TCP/UDP checksums (veth peers): completed here. */
  readonly csumPartial = new CsumPartialRx();

  constructor(
    private readonly ctx: Ipv4Ctx,
    private readonly nf: NfHooks,
    private readonly icmp: IcmpSender,
  ) {}

  init(g: Graph): void {
    this.g = g;
    this.ctx.u8 = g.pool.umem.u8;
    this.ctx.dv = g.pool.umem.dv;
    this.sLocal = g.id('ip-local-deliver');
    this.sForward = g.id('ip-forward');
    this.sOutput = g.id('ip-output');
    this.rHdr = g.reason('ip.InHdrErrors');
    this.rCsum = g.reason('ip.InCsumErrors');
    this.rTrunc = g.reason('ip.InTruncatedPkts');
    this.rOther = g.reason('ip.otherhost');
    this.rSrr = g.reason('ip.source_route');
    this.rNf = g.reason('netfilter.drop');
    this.rNoRoute = g.reason('ip.InNoRoutes');
    this.rUnreach = g.reason('ip.unreachable');
    ROUTE_DROP_REASONS.forEach((r, k) => (this.rRoute[k] = g.reason(r)));
  }

  run(b: Batch, v: Uint16Array, n: number): void {
    const g = this.g;
    const ctx = this.ctx;
    const u8 = ctx.u8;
    const dv = ctx.dv;
    const m = ctx.mib.ip.v;
    const nfOn = this.nf.on[NF_INET_PRE_ROUTING];
    const cp = this.csumPartial;
    const cpOn = cp.on;
    const fib = ctx.fib;
    const forwarding = ctx.sysctl.ip_forward !== 0;
    for (let j = 0; j < n; j++) {
      const i = v[j];
      const l3 = b.l3[i];
      const flen = b.len[i];
      // ip_rcv_core order: otherhost, header present, then ipv4Check (version/ihl, checksum, lengths).
      if (b.pkttype[i] === PACKET_OTHERHOST) {
        g.drop(b, i, this.rOther);
        continue;
      }
      // IPSTATS_MIB_IN: counted with the L3 length as received (before padding is trimmed).
      m[IP.InReceives]++;
      if (flen < l3 + IPV4_HLEN) {
        this.hdrError(b, i);
        continue;
      }
      m[IP.InOctets] += flen - l3;
      const h = b.addr[i] + l3;
      const bad = ipv4Check(dv, h, flen - l3);
      if (bad !== IPV4_OK) {
        this.checkError(b, i, bad);
        continue;
      }
      const ihl = (u8[h + IPV4_VIHL] & 0x0f) << 2;
      const tot = dv.getUint16(h + IPV4_TOT_LEN);
      // pskb_trim_rcsum: Ethernet padding is not part of the datagram.
      b.len[i] = l3 + tot;
      b.l4[i] = l3 + ihl;
      // aux is per-layer scratch: from here on it holds RTCF flags (icmp_send reads them).
      b.aux[i] = 0;
      // Before PREROUTING: netfilter, NAT and local delivery must see a complete checksum.
      if (cpOn[b.iif[i]] !== 0) cp.complete(dv, h, ihl, tot, b.iif[i]);
      if (nfOn !== 0) {
        const verdict = this.nf.run(NF_INET_PRE_ROUTING, b, i);
        if (verdict !== NF_ACCEPT) {
          if (verdict === NF_REPLY) g.enqueue(this.sOutput, i);
          else g.drop(b, i, this.rNf);
          continue;
        }
      }
      // ip_route_input: the common case written out here (an ordinary source, a destination that
      // is ours or forwarded through a device), routeInput for the rest. Not a call: V8 inlines
      // at most 920 bytecode bytes into one function, ipv4Check and the FIB lookup take most of
      // them, and a call left out of line cost ~8 ns a packet (bench/micro-ipv4.ts, Node 20).
      const saddr = dv.getUint32(h + IPV4_SADDR);
      const daddr = dv.getUint32(h + IPV4_DADDR);
      let r = -1;
      const stop = saddr >>> 24;
      const dtop = daddr >>> 24;
      if (stop !== 0 && stop !== 127 && stop < 224 && dtop !== 0 && dtop !== 127 && dtop < 224 && !ctx.isLocal(saddr)) {
        const nh = fib.lookup(daddr);
        const type = nh < 0 ? -1 : fib.nhType[nh];
        if (type === RTN_LOCAL) {
          b.aux[i] = RTCF_LOCAL;
          r = ROUTE_LOCAL;
        } else if (type === RTN_UNICAST && fib.nhOif[nh] >= 0 && forwarding) {
          const gw = fib.nhGateway[nh];
          b.oif[i] = fib.nhOif[nh];
          b.nh[i] = gw === 0 ? daddr : gw;
          r = ROUTE_FORWARD;
        }
      }
      if (r < 0) r = routeInput(ctx, b, i, saddr, daddr);
      const kind = r & 0xff;
      if (kind > ROUTE_FORWARD) {
        this.routeError(b, i, r);
        continue;
      }
      if (ihl > IPV4_HLEN && !this.options(b, i, h, ihl)) continue;
      g.enqueue(kind === ROUTE_LOCAL ? this.sLocal : this.sForward, i);
    }
  }

  /** End of the dispatch: conntrack frees the entries of packets that were never confirmed. */
  flush(): void {
    this.nf.flush();
  }

  private hdrError(b: Batch, i: number): void {
    this.ctx.mib.ip.v[IP.InHdrErrors]++;
    this.g.drop(b, i, this.rHdr);
  }

  /** An ipv4Check failure, counted as ip_rcv_core counts it. */
  private checkError(b: Batch, i: number, bad: number): void {
    const m = this.ctx.mib.ip.v;
    if (bad === IPV4_BAD_CSUM) {
      m[IP.InCsumErrors]++;
      m[IP.InHdrErrors]++;
      this.g.drop(b, i, this.rCsum);
    } else if (bad === IPV4_TRUNCATED) {
      m[IP.InTruncatedPkts]++;
      this.g.drop(b, i, this.rTrunc);
    } else this.hdrError(b, i);
  }

  private routeError(b: Batch, i: number, r: number): void {
    const sub = r >>> 8;
    if ((r & 0xff) === ROUTE_ICMP) {
      if (this.icmp.send(b, i, ICMP_DEST_UNREACH, sub, 0)) this.g.enqueue(this.sOutput, i);
      else this.g.drop(b, i, sub === ICMP_NET_UNREACH ? this.rNoRoute : this.rUnreach);
      return;
    }
    this.g.drop(b, i, this.rRoute[sub]);
  }

  /** ip_rcv_options: malformed -> parameter problem (pointer to the bad octet) + InHdrErrors. */
  private options(b: Batch, i: number, h: number, ihl: number): boolean {
    const r = ipOptionsCompile(this.ctx.u8, h, ihl);
    if (r === OPT_OK) return true;
    if (r === OPT_SRR) {
      // accept_source_route = 0 (the default): dropped, not answered.
      this.g.drop(b, i, this.rSrr);
      return false;
    }
    this.ctx.mib.ip.v[IP.InHdrErrors]++;
    if (this.icmp.send(b, i, ICMP_PARAMETERPROB, 0, r << 24)) this.g.enqueue(this.sOutput, i);
    else this.g.drop(b, i, this.rHdr);
    return false;
  }
}
