import type { Batch } from '../core/batch.ts';
import * as icmp from '../wire/icmp.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as tcp from '../wire/tcp.ts';
import * as udp from '../wire/udp.ts';
import * as ctCommon from './conntrack/common.ts';
import type { Conntrack } from './conntrack/conntrack.ts';
import { icmpIsErr } from './conntrack/proto-icmp.ts';
import type { Ipv4Ctx } from './ctx.ts';
import type { IcmpSender } from './icmp-send.ts';
import * as nfPacket from './netfilter/packet.ts';
import { NfPacket } from './netfilter/packet.ts';

export { NF_ACCEPT, NF_DROP, NF_INET_FORWARD, NF_INET_LOCAL_IN, NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING, NF_INET_PRE_ROUTING, NF_REJECT, REJECT_TCP_RESET } from './netfilter/packet.ts';

// Hot path: imported bindings as module-local consts (src/wire/README.md, "On the hot path").
const { ICMP_CODE, ICMP_DEST_UNREACH, ICMP_TYPE } = icmp;
const { IP_DF, IP_MF, IP_OFFSET, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPV4_DADDR, IPV4_FRAG_OFF, IPV4_HLEN, IPV4_PROTOCOL, IPV4_SADDR, IPV4_VIHL, writeIpv4Header } = ipv4;
const { TCP_ACK, TCP_ACK_SEQ, TCP_DEST, TCP_DOFF, TCP_FIN, TCP_FLAGS, TCP_HLEN, TCP_RST, TCP_SEQ, TCP_SOURCE, TCP_SYN, writeTcpHeader } = tcp;
const { UDP_DEST, UDP_SOURCE } = udp;
const { IP_CT_RELATED, IP_CT_RELATED_REPLY, NFCT_DROP, NFCT_NONE, NFCT_UNTRACKED, XT_CONNTRACK_STATE_INVALID } = ctCommon;
const { NF_ACCEPT, NF_DROP, NF_INET_FORWARD, NF_INET_LOCAL_IN, NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING, NF_INET_PRE_ROUTING, NF_REJECT, NFF_ADDR, NFF_ALL, NFF_CT, NFF_IF, NFF_IPH, NFF_L4, NFF_MARK, REJECT_TCP_RESET } =
  nfPacket;

/** Returned by NfHooks.run: packet i was turned into a reject reply in place; send it to ip-output. */
export const NF_REPLY = 3;

/** What the stages need of netfilter/netfilter.ts's Netfilter (a stand-in in tests). */
export interface NetfilterLike {
  /** NF_ACCEPT, NF_DROP or NF_REJECT (p.rejectWith = ICMP unreachable code or REJECT_TCP_RESET). */
  hook(hook: number, p: NfPacket): number;
  /** True when hook() has nothing to do at the hook (used by refresh() only). */
  hookIsEmpty?(hook: number): boolean;
  /** The raw table at PREROUTING/OUTPUT, before conntrack (sets p.notrack). */
  raw?(hook: number, p: NfPacket): number;
  rawIsEmpty?(hook: number): boolean;
  /** A rule needs connection tracking. */
  needsConntrack?(): boolean;
  /** The NfPacket field groups (NFF_*) the hook's rules read (used by refresh() only); all without it. */
  fieldsAt?(hook: number): number;
}

/**
 * NF_HOOK for the IPv4 stages: fills the reused NfPacket from packet i, runs the hook's parts in
 * the kernel's priority order (raw -300, conntrack -200, then mangle/nat/filter through
 * netfilter's hook(), conntrack's confirm last), applies MARK, and turns REJECT into an ICMP
 * error or TCP RST in place. `on[hook]` is a plain byte the stages test before calling run(), so
 * a hook without rules costs one load per packet; connection tracking is off (`ct` null) until
 * a rule or nf_conntrack_enable needs it. NfPacket gets only the fields the hook's rules read
 * (`need`, from refresh()): a router filtering on addresses and ports reads no devices, marks
 * or next hops per packet.
 */
export class NfHooks {
  nf: NetfilterLike | null = null;
  readonly p = new NfPacket();
  /** Per hook: 1 when run() must be called. */
  readonly on = new Uint8Array(5);
  /** Per hook: netfilter's hook() / raw() have work. */
  private readonly tabOn = new Uint8Array(5);
  private readonly rawOn = new Uint8Array(5);
  /** Per hook: the NfPacket field groups to fill (NFF_*). */
  private readonly need = new Uint8Array(5);
  /** Connection tracking while it is on (refresh() decides), else null. */
  ct: Conntrack | null = null;
  /** Makes the stack's Conntrack the first time it is needed (Ipv4 sets it). */
  conntrack: (() => Conntrack) | null = null;
  /** softnet's nf_conntrack_enable: track even without rules that need it. */
  ctAlways = false;

  constructor(
    private readonly ctx: Ipv4Ctx,
    private readonly icmp: IcmpSender,
  ) {}

  /**
   * Attach (or detach with null) a netfilter. Every hook is consulted until refresh() is called:
   * a rule added later must never be skipped silently.
   */
  attach(nf: NetfilterLike | null): void {
    this.nf = nf;
    this.on.fill(nf === null ? 0 : 1);
    this.tabOn.fill(nf === null ? 0 : 1);
    this.rawOn.fill(nf === null ? 0 : 1);
    this.need.fill(nf === null ? 0 : NFF_ALL);
  }

  /**
   * Skip hooks that are empty right now (hookIsEmpty). Saves filling NfPacket per packet, but
   * then it MUST be called again after every rule or policy change.
   */
  refresh(): void {
    const nf = this.nf;
    const track = nf !== null && this.conntrack !== null && (this.ctAlways || nf.needsConntrack?.() === true);
    this.ct = track ? this.conntrack!() : null;
    for (let h = 0; h < 5; h++) {
      this.tabOn[h] = nf === null ? 0 : nf.hookIsEmpty === undefined || !nf.hookIsEmpty(h) ? 1 : 0;
      this.rawOn[h] = nf === null || nf.raw === undefined ? 0 : nf.rawIsEmpty === undefined || !nf.rawIsEmpty(h) ? 1 : 0;
      // Conntrack looks packets up at PREROUTING/OUTPUT and confirms them at INPUT/POSTROUTING.
      this.on[h] = this.tabOn[h] | this.rawOn[h] | (track && h !== NF_INET_FORWARD ? 1 : 0);
      this.need[h] = nf === null ? 0 : (nf.fieldsAt?.(h) ?? NFF_ALL);
    }
  }

  /** End of a dispatch: entries of packets that never reached confirmation go (ip-rcv's flush). */
  flush(): void {
    this.ct?.reclaim();
  }

  /** Run hook for packet i (IP header at b.l3, validated). Returns NF_DROP, NF_ACCEPT or NF_REPLY. */
  run(hook: number, b: Batch, i: number): number {
    const nf = this.nf;
    if (nf === null) return NF_ACCEPT;
    const ct = this.ct;
    // Only conntrack at this hook (no table has rules here): no NfPacket to fill.
    if (ct !== null && this.tabOn[hook] === 0 && this.rawOn[hook] === 0) {
      if (hook === NF_INET_PRE_ROUTING || hook === NF_INET_LOCAL_OUT) {
        const nfct = this.track(hook, b, i, b.addr[i] + b.l3[i], b.len[i] - b.l3[i], ct, b.nfct[i]);
        return nfct === NFCT_DROP ? NF_DROP : NF_ACCEPT;
      }
      return hook === NF_INET_FORWARD || ct.confirm(b.nfct[i]) ? NF_ACCEPT : NF_DROP;
    }
    const dv = this.ctx.dv;
    const u8 = this.ctx.u8;
    const h = b.addr[i] + b.l3[i];
    const len = b.len[i] - b.l3[i];
    const p = this.p;
    const need = this.need[hook];
    const proto = u8[h + IPV4_PROTOCOL];
    const frag = dv.getUint16(h + IPV4_FRAG_OFF) & IP_OFFSET;
    p.proto = proto;
    p.len = len;
    p.fragOff = frag;
    p.rejectWith = 0;
    if ((need & NFF_IF) !== 0) {
      // iptables refuses -i in OUTPUT/POSTROUTING and -o in PREROUTING/INPUT: -1 there.
      p.iif = hook === NF_INET_LOCAL_OUT || hook === NF_INET_POST_ROUTING ? -1 : b.iif[i];
      p.oif = hook === NF_INET_PRE_ROUTING || hook === NF_INET_LOCAL_IN ? -1 : b.oif[i];
    }
    if ((need & NFF_ADDR) !== 0) {
      p.saddr = dv.getUint32(h + IPV4_SADDR);
      p.daddr = dv.getUint32(h + IPV4_DADDR);
    }
    if ((need & NFF_MARK) !== 0) p.mark = b.mark[i];
    if ((need & NFF_IPH) !== 0) {
      p.h = h;
      p.nh = b.nh[i];
    }
    if ((need & NFF_L4) !== 0) {
      p.sport = -1;
      p.dport = -1;
      p.icmpType = -1;
      p.icmpCode = -1;
      p.tcpFlags = 0;
      // Ports and types only from the first fragment, and only if they are within the datagram.
      const ihl = (u8[h + IPV4_VIHL] & 0x0f) << 2;
      const l4 = h + ihl;
      if (frag === 0) {
        // TCP's ports sit where UDP's do.
        if ((proto === IPPROTO_TCP || proto === IPPROTO_UDP) && len >= ihl + UDP_DEST + 2) {
          p.sport = dv.getUint16(l4 + UDP_SOURCE);
          p.dport = dv.getUint16(l4 + UDP_DEST);
          if (proto === IPPROTO_TCP && len >= ihl + TCP_FLAGS + 1) p.tcpFlags = u8[l4 + TCP_FLAGS];
        } else if (proto === IPPROTO_ICMP && len >= ihl + ICMP_CODE + 1) {
          p.icmpType = u8[l4 + ICMP_TYPE];
          p.icmpCode = u8[l4 + ICMP_CODE];
        }
      }
    }
    if (ct !== null) {
      let nfct = b.nfct[i];
      if (hook === NF_INET_PRE_ROUTING || hook === NF_INET_LOCAL_OUT) {
        nfct = this.track(hook, b, i, h, len, ct, nfct);
        if (nfct === NFCT_DROP) return NF_DROP;
      }
      p.nfct = nfct;
      p.ctState = ct.stateBits(nfct);
      p.ctStatus = ct.statusOf(nfct);
    } else if ((need & NFF_CT) !== 0) {
      p.nfct = b.nfct[i];
      p.ctState = XT_CONNTRACK_STATE_INVALID;
      p.ctStatus = -1;
    }
    const verdict = this.tabOn[hook] !== 0 ? nf.hook(hook, p) : NF_ACCEPT;
    if ((need & NFF_MARK) !== 0 && p.mark !== b.mark[i]) b.mark[i] = p.mark >>> 0;
    if (verdict === NF_ACCEPT) {
      // __nf_conntrack_confirm, at the last priority of INPUT and POSTROUTING.
      if (ct !== null && (hook === NF_INET_LOCAL_IN || hook === NF_INET_POST_ROUTING) && !ct.confirm(p.nfct)) return NF_DROP;
      return NF_ACCEPT;
    }
    // REJECT of our own output would answer ourselves: there is no loopback, so it just drops.
    if (verdict === NF_REJECT && hook !== NF_INET_LOCAL_OUT && hook !== NF_INET_POST_ROUTING) return this.reject(b, i, p.rejectWith);
    return NF_DROP;
  }

  /**
   * The raw table, then nf_conntrack_in, for packet i at PREROUTING or OUTPUT: its new nfct (also
   * stored in b.nfct), or NFCT_DROP. A packet that already has an entry at OUTPUT was built in
   * place from a received one: an ICMP error or REJECT's reply keeps it, RELATED (nf_ct_attach);
   * anything else (an echo reply) is looked up afresh.
   */
  private track(hook: number, b: Batch, i: number, h: number, len: number, ct: Conntrack, nfct: number): number {
    const p = this.p;
    if (this.rawOn[hook] !== 0) {
      p.nfct = NFCT_NONE;
      p.ctState = XT_CONNTRACK_STATE_INVALID;
      p.ctStatus = -1;
      p.notrack = 0;
      const v = this.nf!.raw!(hook, p);
      if (v !== NF_ACCEPT) return NFCT_DROP;
      if (p.notrack !== 0) {
        b.nfct[i] = NFCT_UNTRACKED;
        return NFCT_UNTRACKED;
      }
    }
    if (nfct !== NFCT_NONE) {
      const ctinfo = nfct & 7;
      if (nfct !== NFCT_UNTRACKED && (ctinfo === IP_CT_RELATED || ctinfo === IP_CT_RELATED_REPLY)) return nfct;
      const u8 = this.ctx.u8;
      const l4 = h + ((u8[h + IPV4_VIHL] & 0x0f) << 2);
      if (u8[h + IPV4_PROTOCOL] === IPPROTO_ICMP && icmpIsErr(u8[l4 + ICMP_TYPE])) {
        nfct = ct.attach(nfct);
        b.nfct[i] = nfct;
        return nfct;
      }
    }
    nfct = ct.in(this.ctx.u8, this.ctx.dv, h, len);
    b.nfct[i] = nfct === NFCT_DROP ? NFCT_NONE : nfct;
    return nfct;
  }

  /** ipt_REJECT: ICMP unreachable (via icmp_send, so its rules and rate limit apply) or a TCP RST. */
  private reject(b: Batch, i: number, how: number): number {
    // nf_ct_attach: the reply belongs to the rejected packet's connection, RELATED.
    if (this.ct !== null) b.nfct[i] = this.ct.attach(b.nfct[i]);
    if (how === REJECT_TCP_RESET) return sendReset(this.ctx, b, i) ? NF_REPLY : NF_DROP;
    return this.icmp.send(b, i, ICMP_DEST_UNREACH, how & 0xff, 0) ? NF_REPLY : NF_DROP;
  }
}

/**
 * nf_send_reset: replace packet i with a TCP RST answering it, in place. Not for fragments,
 * truncated headers or RSTs. RFC 793: if the segment had ACK, seq = its ack; else ack = its
 * seq + SYN + FIN + payload length.
 */
export function sendReset(ctx: Ipv4Ctx, b: Batch, i: number): boolean {
  const dv = ctx.dv;
  const u8 = ctx.u8;
  const l3 = b.l3[i];
  const h = b.addr[i] + l3;
  const len = b.len[i] - l3;
  const ihl = (u8[h + IPV4_VIHL] & 0x0f) << 2;
  const fragment = (dv.getUint16(h + IPV4_FRAG_OFF) & (IP_MF | IP_OFFSET)) !== 0;
  if (u8[h + IPV4_PROTOCOL] !== IPPROTO_TCP || fragment || len < ihl + TCP_HLEN) return false;
  const t = h + ihl;
  const doff = (u8[t + TCP_DOFF] >>> 4) << 2;
  const flags = u8[t + TCP_FLAGS];
  if ((flags & TCP_RST) !== 0 || doff < TCP_HLEN || ihl + doff > len) return false;
  const saddr = dv.getUint32(h + IPV4_SADDR);
  const daddr = dv.getUint32(h + IPV4_DADDR);
  if (saddr >>> 24 === 0 || saddr >>> 28 >= 0xe || saddr >>> 24 === 127) return false;
  const sport = dv.getUint16(t + TCP_SOURCE);
  const dport = dv.getUint16(t + TCP_DEST);
  if ((flags & TCP_ACK) !== 0) {
    writeTcpHeader(dv, h + IPV4_HLEN, dport, sport, dv.getUint32(t + TCP_ACK_SEQ), 0, TCP_RST, 0, TCP_HLEN, daddr, saddr);
  } else {
    const plen = len - ihl - doff + (flags & TCP_SYN ? 1 : 0) + (flags & TCP_FIN ? 1 : 0);
    writeTcpHeader(dv, h + IPV4_HLEN, dport, sport, 0, dv.getUint32(t + TCP_SEQ) + plen, TCP_RST | TCP_ACK, 0, TCP_HLEN, daddr, saddr);
  }
  writeIpv4Header(dv, h, 0, IPV4_HLEN + TCP_HLEN, ctx.nextIdent(), IP_DF, ctx.sysctl.ip_default_ttl, IPPROTO_TCP, daddr, saddr);
  b.len[i] = l3 + IPV4_HLEN + TCP_HLEN;
  b.l4[i] = l3 + IPV4_HLEN;
  b.aux[i] = 0;
  return true;
}
