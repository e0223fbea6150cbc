import type { Batch } from '../core/batch.ts';
import type { Graph, Stage } from '../core/graph.ts';
import { ICMP_DEST_UNREACH, ICMP_PROT_UNREACH } from '../wire/icmp.ts';
import * as ipv4 from '../wire/ipv4.ts';
import type { Ipv4Ctx } from './ctx.ts';
import type { IcmpSender } from './icmp-send.ts';
import type { IpDefrag } from './ip-defrag.ts';
import { IP } from './mib.ts';
import { NF_ACCEPT, NF_INET_LOCAL_IN, NF_REPLY, type NfHooks } from './nf-hooks.ts';
// Hot path: imported bindings as module-local consts (src/wire/README.md, "On the hot path").
const { IP_MF, IP_OFFSET, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPV4_FRAG_OFF, IPV4_PROTOCOL } = ipv4;

/** Protocol handlers wired automatically when their stage exists (inet_init's inet_add_protocol). */
const DEFAULT_PROTOCOLS: ReadonlyArray<[number, string]> = [
  [IPPROTO_ICMP, 'icmp-rcv'],
  [IPPROTO_TCP, 'tcp-rcv'],
  [IPPROTO_UDP, 'udp-rcv'],
];

/**
 * `ip-local-deliver`: ip_local_deliver. Fragments are reassembled first (as Linux does, before
 * INPUT), then the INPUT hook, then the protocol table (inet_protos): IP protocol -> stage.
 * An unknown protocol is answered with ICMP protocol unreachable and counted InUnknownProtos.
 */
export class IpLocalDeliver implements Stage {
  readonly name = 'ip-local-deliver';
  /** IP protocol -> stage id, -1 = none. Resolved from `names` at init. */
  readonly protoIds = new Int32Array(256).fill(-1);
  private readonly names = new Map<number, string>();
  private g: Graph | null = null;
  private sOutput = 0;
  private rNf = 0;
  private rProto = 0;

  constructor(
    private readonly ctx: Ipv4Ctx,
    private readonly nf: NfHooks,
    private readonly icmp: IcmpSender,
    private readonly defrag: IpDefrag,
  ) {}

  /** inet_add_protocol: deliver IP protocol `proto` to stage `stageName` (resolved at seal). */
  addProtocol(proto: number, stageName: string): void {
    if (!Number.isInteger(proto) || proto < 0 || proto > 255) throw new Error(`inet_add_protocol: protocol ${proto} is not in 0..255`);
    const had = this.names.get(proto);
    if (had !== undefined && had !== stageName) throw new Error(`inet_add_protocol: protocol ${proto} is handled by ${had} already; remove it first`);
    this.names.set(proto, stageName);
    if (this.g !== null && this.g.has(stageName)) this.protoIds[proto] = this.g.id(stageName);
  }

  /** inet_del_protocol. */
  delProtocol(proto: number): boolean {
    this.protoIds[proto] = -1;
    return this.names.delete(proto);
  }

  protocols(): Array<{ proto: number; stage: string }> {
    return [...this.names].map(([proto, stage]) => ({ proto, stage }));
  }

  init(g: Graph): void {
    this.g = g;
    this.sOutput = g.id('ip-output');
    this.rNf = g.reason('netfilter.drop');
    this.rProto = g.reason('ip.InUnknownProtos');
    this.defrag.init(g);
    for (const [p, name] of DEFAULT_PROTOCOLS) if (!this.names.has(p) && g.has(name)) this.names.set(p, name);
    this.protoIds.fill(-1);
    for (const [p, name] of this.names) {
      if (!g.has(name)) throw new Error(`inet_add_protocol: protocol ${p} is registered to stage ${name}, which is not in the graph`);
      this.protoIds[p] = g.id(name);
    }
  }

  run(b: Batch, v: Uint16Array, n: number): void {
    const g = this.g!;
    const ctx = this.ctx;
    const u8 = ctx.u8;
    const dv = ctx.dv;
    const m = ctx.mib.ip.v;
    const ids = this.protoIds;
    const nfOn = this.nf.on[NF_INET_LOCAL_IN];
    for (let j = 0; j < n; j++) {
      const i = v[j];
      const h = b.addr[i] + b.l3[i];
      // ip_is_fragment: more follow, or not the first.
      if ((dv.getUint16(h + IPV4_FRAG_OFF) & (IP_MF | IP_OFFSET)) !== 0 && !this.defrag.defrag(b, i)) continue;
      if (nfOn !== 0) {
        const verdict = this.nf.run(NF_INET_LOCAL_IN, b, i);
        if (verdict !== NF_ACCEPT) {
          if (verdict === NF_REPLY) g.enqueue(this.sOutput, i);
          else g.drop(b, i, this.rNf);
          continue;
        }
      }
      // Reassembly may have moved the datagram to a new frame: h is stale.
      const s = ids[u8[b.addr[i] + b.l3[i] + IPV4_PROTOCOL]];
      if (s >= 0) {
        m[IP.InDelivers]++;
        g.enqueue(s, i);
      } else this.unknownProto(b, i);
    }
  }

  private unknownProto(b: Batch, i: number): void {
    this.ctx.mib.ip.v[IP.InUnknownProtos]++;
    if (this.icmp.send(b, i, ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, 0)) this.g!.enqueue(this.sOutput, i);
    else this.g!.drop(b, i, this.rProto);
  }
}
