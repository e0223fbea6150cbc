/**
 * The NAT core (nf_nat_core.c, nf_nat_proto.c's nf_nat_ipv4_fn/nf_nat_icmp_reply_translation,
 * nf_nat_masquerade.c, nf_nat_redirect.c) on top of connection tracking. It sits in
 * Netfilter.hook at the nat table's priority (netfilter.ts attachNat) and, per packet:
 *
 *   ICMP error RELATED to a NATed connection -> translate the quoted datagram and the outer header
 *   first packet for this manip type (NEW/RELATED, binding not made yet)
 *       -> run the nat chain once (Netfilter.runNat), turn the target's range (or none: the null
 *          binding) into a unique tuple (tuple-alloc.ts), store it as the entry's reply tuple
 *   every packet -> nf_nat_packet: rewrite source (POSTROUTING, INPUT) or destination
 *          (PREROUTING, OUTPUT) when the entry's IPS_SRC_NAT/IPS_DST_NAT says this direction needs it
 *
 * The bytes are rewritten by src/wire/nat.ts (incremental checksums). Nothing is allocated per
 * packet; the binding's scratch tuples and range are reused.
 */

import { grown } from '../../core/grow.ts';
import * as common from '../conntrack/common.ts';
import type { Conntrack } from '../conntrack/conntrack.ts';
import type { CtTable } from '../conntrack/table.ts';
import { invertPorts } from '../conntrack/tuple.ts';
import type { Ipv4Ctx } from '../ctx.ts';
import * as packet from '../netfilter/packet.ts';
import type { NatHook, Netfilter } from '../netfilter/netfilter.ts';
import * as nr from '../netfilter/target/nat-range.ts';
import * as wnat from '../../wire/nat.ts';
import { BySource } from './bysource.ts';
import { NatRange, TupleAlloc } from './tuple-alloc.ts';

// Hot path: imported bindings as module-local consts (src/wire/README.md, "On the hot path").
const { IP_CT_IS_REPLY, IP_CT_NEW, IP_CT_RELATED, IP_CT_RELATED_REPLY, IPS_CONFIRMED, IPS_DST_NAT, IPS_DST_NAT_DONE, IPS_NAT_DONE_MASK, IPS_NAT_MASK, IPS_SRC_NAT, IPS_SRC_NAT_DONE } = common;
const { NF_ACCEPT, NF_DROP, NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING, NF_INET_PRE_ROUTING } = packet;
const { NAT_MANIP_DST, NAT_MANIP_SRC, natManip, natManipAddr, natManipIcmpInner } = wnat;
const { NAT_DNAT, NAT_MASQUERADE, NAT_REDIRECT, NAT_SNAT, NF_NAT_RANGE_MAP_IPS } = nr;

/** Drop reasons, as counters (`softnet stat`). */
export const NAT_STAT_NAMES = ['nat.no_tuple', 'nat.manip_failed', 'nat.icmp_failed', 'nat.no_addr', 'nat.oif_changed', 'nat.masq_flushed'] as const;
const S_NO_TUPLE = 0;
const S_MANIP = 1;
const S_ICMP = 2;
const S_NO_ADDR = 3;
const S_OIF = 4;
const S_FLUSHED = 5;
const ICMP_REDIRECT = 5;
const NO_MASQ = 0xff;
const LOOPBACK = 0x7f000001;

export class Nat implements NatHook {
  readonly stats = new Float64Array(NAT_STAT_NAMES.length);
  private readonly table: CtTable;
  private readonly alloc: TupleAlloc;
  readonly bysource: BySource;
  /** Per entry: the device MASQUERADE chose the address of (nf_conn_nat.masq_index), NO_MASQ otherwise. */
  private masqIndex = new Uint8Array(0);
  private readonly cur = new Uint32Array(4);
  private readonly out = new Uint32Array(4);
  private readonly hint = new Uint32Array(4);
  private readonly range = new NatRange();

  constructor(
    private readonly ctx: Ipv4Ctx,
    private readonly ct: Conntrack,
    private readonly nf: Netfilter,
  ) {
    this.table = ct.table;
    const seed = (Math.random() * 0x100000000) >>> 0;
    this.alloc = new TupleAlloc(this.table, seed);
    this.bysource = new BySource(this.table, this.table.buckets, seed ^ 0x5bd1e995);
  }

  /** nf_nat_ipv4_fn (with _in/_out/_local_fn's hook positions): NF_ACCEPT or NF_DROP; p describes the packet after it. */
  natHook(hook: number, p: packet.NfPacket): number {
    const nfct = p.nfct;
    if (nfct < 0) return NF_ACCEPT; // untracked, invalid: nothing to follow (the kernel's "!ct")
    const ctinfo = nfct & 7;
    if (ctinfo > IP_CT_RELATED_REPLY) return NF_ACCEPT; // NOTRACK
    const e = nfct >> 3;
    const manip = hook === NF_INET_PRE_ROUTING || hook === NF_INET_LOCAL_OUT ? NAT_MANIP_DST : NAT_MANIP_SRC;
    const related = ctinfo === IP_CT_RELATED || ctinfo === IP_CT_RELATED_REPLY;
    if (related && p.proto === 1) return this.icmpReply(e, ctinfo, manip, p);
    const st = this.table.status[e];
    if (related || ctinfo === IP_CT_NEW) {
      if ((st & (manip === NAT_MANIP_SRC ? IPS_SRC_NAT_DONE : IPS_DST_NAT_DONE)) === 0) {
        // A confirmed entry cannot be bound any more (nf_nat_setup_info): it stays as it is.
        if ((st & IPS_CONFIRMED) === 0) {
          const w = ctinfo === IP_CT_NEW ? this.twin(e, manip) : -1;
          if (w >= 0) {
            // conntrack will keep the twin (confirm's clash resolution): follow its binding
            p.nfct = (w << 3) | ctinfo;
            return this.packet(w, ctinfo, manip, p);
          }
          const v = this.nf.runNat(hook, p);
          if (v !== NF_ACCEPT) return v;
          if (!this.setup(e, hook, manip, p)) return NF_DROP;
        }
      } else if (this.oifChanged(e, hook, ctinfo, p)) return NF_DROP;
    } else if (this.oifChanged(e, hook, ctinfo, p)) return NF_DROP;
    return this.packet(e, ctinfo, manip, p);
  }

  /**
   * A confirmed entry with unconfirmed e's original tuple: two first packets of one flow in one
   * dispatch each got an entry, and the first was confirmed before the second reached its NAT
   * hook (Linux, a packet at a time, would have found it at lookup). Binding e anew would pick
   * another port, since the twin holds the first; the packet would leave with a mapping no entry
   * answers to (confirm keeps the twin). For SRC the twin must have been DNATed the same way.
   * Its index, else -1.
   */
  private twin(e: number, manip: number): number {
    const t = this.table;
    const tupI = t.tupI;
    const o = e * 8;
    const n = t.find(tupI[o], tupI[o + 1], tupI[o + 2], tupI[o + 3]);
    if (n < 0 || (n & 1) !== 0) return -1;
    const w = n >> 1;
    if (manip === NAT_MANIP_SRC) {
      const ow = w * 8;
      const proto = tupI[o + 3];
      if (tupI[ow + 4] !== tupI[o + 4]) return -1;
      if ((proto === 6 || proto === 17) && tupI[ow + 6] >>> 16 !== tupI[o + 6] >>> 16) return -1;
    }
    return w;
  }

  /** nf_nat_packet: rewrite p's `manip` end when the entry says this direction needs it. */
  private packet(e: number, ctinfo: number, manip: number, p: packet.NfPacket): number {
    const reply = ctinfo >= IP_CT_IS_REPLY;
    let bit = manip === NAT_MANIP_SRC ? IPS_SRC_NAT : IPS_DST_NAT;
    if (reply) bit ^= IPS_NAT_MASK;
    if ((this.table.status[e] & bit) === 0) return NF_ACCEPT;
    // nf_nat_manip_pkt: look like the inverse of the other direction's tuple
    const o = e * 8 + (reply ? 0 : 4);
    const tup = this.table.tup;
    const proto = tup[o + 3];
    let addr: number;
    let port: number;
    if (manip === NAT_MANIP_SRC) {
      addr = tup[o + 1];
      port = proto === 1 ? tup[o + 2] >>> 16 : tup[o + 2] & 0xffff;
    } else {
      addr = tup[o];
      port = tup[o + 2] >>> 16;
    }
    // `| 0`: an address above 2^31 passed as a number would be boxed (a heap number per call)
    if (!natManip(this.ctx.dv, p.h, p.len, manip, addr | 0, port)) {
      this.stats[S_MANIP]++;
      return NF_DROP;
    }
    if (manip === NAT_MANIP_SRC) {
      p.saddr = addr;
      if (p.sport >= 0) p.sport = port;
    } else {
      p.daddr = addr;
      if (p.dport >= 0) p.dport = port;
    }
    return NF_ACCEPT;
  }

  /**
   * nf_nat_icmp_reply_translation: an ICMP error about a NATed connection. The quoted datagram
   * gets the other manip with the other direction's tuple as it is; the outer header the manip
   * of this hook towards the inverse of that tuple (so it reaches the real host, and the host
   * sees the error about the packet it sent).
   */
  private icmpReply(e: number, ctinfo: number, manip: number, p: packet.NfPacket): number {
    const st = this.table.status[e];
    const u8 = this.ctx.u8;
    const ihl = (u8[p.h] & 0x0f) << 2;
    const l4 = p.h + ihl;
    if (p.len < ihl + 8) {
      this.stats[S_ICMP]++;
      return NF_DROP;
    }
    if (u8[l4] === ICMP_REDIRECT && ((st & IPS_NAT_DONE_MASK) !== IPS_NAT_DONE_MASK || (st & IPS_NAT_MASK) !== 0)) return NF_DROP;
    const reply = ctinfo === IP_CT_RELATED_REPLY;
    let bit = manip === NAT_MANIP_SRC ? IPS_SRC_NAT : IPS_DST_NAT;
    if (reply) bit ^= IPS_NAT_MASK;
    if ((st & bit) === 0) return NF_ACCEPT;
    const o = e * 8 + (reply ? 0 : 4);
    const tup = this.table.tup;
    const proto = tup[o + 3];
    const inner = manip === NAT_MANIP_SRC ? NAT_MANIP_DST : NAT_MANIP_SRC;
    const iaddr = inner === NAT_MANIP_SRC ? tup[o] : tup[o + 1];
    const iport = proto === 1 || inner === NAT_MANIP_SRC ? tup[o + 2] >>> 16 : tup[o + 2] & 0xffff;
    if (!natManipIcmpInner(this.ctx.dv, l4, p.len - ihl, inner, iaddr | 0, iport)) {
      this.stats[S_ICMP]++;
      return NF_DROP;
    }
    const oaddr = manip === NAT_MANIP_SRC ? tup[o + 1] : tup[o];
    natManipAddr(this.ctx.dv, p.h, manip, oaddr | 0);
    if (manip === NAT_MANIP_SRC) p.saddr = oaddr;
    else p.daddr = oaddr;
    return NF_ACCEPT;
  }

  /**
   * nf_nat_setup_info for the range p's NAT target chose (the null binding when none did):
   * the entry's reply tuple becomes the inverse of the unique tuple, IPS_*_NAT when it changed,
   * IPS_*_NAT_DONE always. false: drop (no free tuple, no address to masquerade to).
   */
  private setup(e: number, hook: number, manip: number, p: packet.NfPacket): boolean {
    const t = this.table;
    const tup = t.tup;
    const o = e * 8;
    const r = this.range;
    const kind = p.natKind;
    let masq = NO_MASQ;
    r.flags = p.natFlags;
    r.minIp = p.natMinIp;
    r.maxIp = p.natMaxIp;
    r.minPort = p.natMinPort;
    r.maxPort = p.natMaxPort;
    if (kind === NAT_MASQUERADE && tup[o] !== 0) {
      const a = this.masqAddr(p.oif, p.nh);
      if (a === 0) {
        this.stats[S_NO_ADDR]++;
        return false;
      }
      r.flags |= NF_NAT_RANGE_MAP_IPS;
      r.minIp = r.maxIp = a;
      masq = p.oif;
    } else if (kind === NAT_REDIRECT) {
      const a = hook === NF_INET_PRE_ROUTING ? this.firstAddr(p.iif) : LOOPBACK;
      if (a === 0) {
        this.stats[S_NO_ADDR]++; // nf_nat_redirect_ipv4: no address on the device: NF_DROP
        return false;
      }
      r.flags |= NF_NAT_RANGE_MAP_IPS;
      r.minIp = r.maxIp = a;
    } else if (kind !== NAT_SNAT && kind !== NAT_DNAT) {
      // __nf_nat_alloc_null_binding: this very address, the protocol part left to the search
      r.flags = NF_NAT_RANGE_MAP_IPS;
      r.minIp = r.maxIp = manip === NAT_MANIP_SRC ? tup[o + 5] : tup[o + 4];
    }
    // what the packet looks like now: the inverse of the reply tuple (earlier manips included)
    const cur = this.cur;
    cur[0] = tup[o + 5];
    cur[1] = tup[o + 4];
    const proto = tup[o + 7];
    cur[2] = proto === 6 || proto === 17 || proto === 1 ? invertPorts(proto, tup[o + 6]) : tup[o + 6];
    cur[3] = proto;
    const hint = this.hint;
    hint[3] = 0;
    if (manip === NAT_MANIP_SRC) this.bysource.find(cur, hint);
    const out = this.out;
    if (!this.alloc.unique(out, cur, r, manip, e, hint)) {
      this.stats[S_NO_TUPLE]++;
      return false;
    }
    if (out[0] !== cur[0] || out[1] !== cur[1] || out[2] !== cur[2]) {
      // nf_conntrack_alter_reply: the entry is unconfirmed, so not in the hash yet
      tup[o + 4] = out[1];
      tup[o + 5] = out[0];
      tup[o + 6] = proto === 6 || proto === 17 || proto === 1 ? invertPorts(proto, out[2]) : out[2];
      t.status[e] |= manip === NAT_MANIP_SRC ? IPS_SRC_NAT : IPS_DST_NAT;
    }
    if (manip === NAT_MANIP_SRC) {
      if (e >= this.masqIndex.length) this.growMasq();
      this.masqIndex[e] = masq;
      t.status[e] |= IPS_SRC_NAT_DONE;
      this.bysource.add(e);
    } else t.status[e] |= IPS_DST_NAT_DONE;
    return true;
  }

  /** inet_select_addr(out, nh, RT_SCOPE_UNIVERSE): the device's address on the next hop's subnet, else its first. */
  private masqAddr(oif: number, nh: number): number {
    const d = this.ctx.devs.list[oif];
    if (d === undefined || d.addrs.length === 0) return 0;
    for (const a of d.addrs) {
      const mask = a.prefixLen === 0 ? 0 : (~0 << (32 - a.prefixLen)) >>> 0;
      if (((a.addr ^ nh) & mask) >>> 0 === 0) return a.addr >>> 0;
    }
    return d.addrs[0].addr >>> 0;
  }

  private firstAddr(dev: number): number {
    const d = this.ctx.devs.list[dev];
    return d === undefined || d.addrs.length === 0 ? 0 : d.addrs[0].addr >>> 0;
  }

  /**
   * nf_nat_oif_changed: a masqueraded connection whose packets now leave through another device
   * (a route changed) would leak the old address: the kernel kills the entry and drops.
   */
  private oifChanged(e: number, hook: number, ctinfo: number, p: packet.NfPacket): boolean {
    if (hook !== NF_INET_POST_ROUTING || ctinfo >= IP_CT_IS_REPLY || e >= this.masqIndex.length) return false;
    const m = this.masqIndex[e];
    if (m === NO_MASQ || m === p.oif || (this.table.status[e] & IPS_SRC_NAT_DONE) === 0) return false;
    this.stats[S_OIF]++;
    this.ct.kill(e);
    return true;
  }

  private growMasq(): void {
    this.masqIndex = grown(this.masqIndex, Math.max(this.table.cap, 1024), NO_MASQ);
  }

  /**
   * masq_inet_event / masq_device_event: forget the connections masqueraded through `dev` (to
   * `addr` only, unless it is undefined: the device went down). Their next packet starts a new
   * connection with the address the device has then. Control plane. Returns how many.
   */
  flushMasquerade(dev: number, addr?: number): number {
    const t = this.table;
    const victims: number[] = [];
    t.forEach((e) => {
      if (e >= this.masqIndex.length || this.masqIndex[e] !== dev || (t.status[e] & IPS_SRC_NAT_DONE) === 0) return;
      if (addr === undefined || t.tup[e * 8 + 5] === addr >>> 0) victims.push(e);
    });
    for (const e of victims) this.ct.kill(e);
    this.stats[S_FLUSHED] += victims.length;
    return victims.length;
  }
}
