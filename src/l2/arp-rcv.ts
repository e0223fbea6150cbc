import { PACKET_HOST, PACKET_OTHERHOST, type Batch } from '../core/batch.ts';
import { counterIds, Counters } from '../core/counters.ts';
import type { Graph, Stage } from '../core/graph.ts';
import type { NetDevice } from '../core/netdev.ts';
import * as arp from '../wire/arp.ts';
import * as ethernet from '../wire/ethernet.ts';
import type { NeighTable } from './neighbour.ts';
// Hot path: wire's bindings as module-local consts (src/wire/README.md, "On the hot path").
const { ARP_FRAME_LEN, ARP_HLN, ARP_HRD, ARP_LEN, ARP_OP, ARP_PLN, ARP_PRO, ARP_SHA, ARP_SPA, ARP_THA, ARP_TPA, ARPHRD_ETHER, ARPHRD_IEEE802, ARPOP_REPLY, ARPOP_REQUEST } = arp;
const { ETH_HLEN, ETH_P_ARP, ETH_P_IP, isValidMac, writeEthHeader } = ethernet;

/** ArpRcv.mib: what ARP saw and did (not drops); ArpFilter is LINUX_MIB_ARPFILTER. */
export const ARP_MIB = ['InRequests', 'InReplies', 'OutReplies', 'Ignored', 'Conflicts', 'InProbes', 'ArpFilter'] as const;
/** Ids of ARP_MIB in ArpRcv.mib: `mib.v[ARP.InRequests]++`. */
export const ARP = counterIds(ARP_MIB);

/**
 * `arp-rcv` (net/ipv4/arp.c arp_rcv + arp_process). ARP header at b.l3, b.iif = the receiving
 * (sub)device. Malformed frames are dropped under `arp.*` reasons. A request for one of the
 * device's addresses is turned into the reply in place and sent to dev-xmit (the frame is
 * reused: no allocation). Learning follows Linux (arp_accept=0 by default): a request for us
 * from an on-link sender creates or updates the sender's entry (STALE), one from an off-link
 * sender is refused (ArpFilter); any other ARP only updates an existing entry (REACHABLE for a
 * unicast reply, else STALE). Everything else is consumed and counted in `mib`.
 */
export class ArpRcv implements Stage {
  readonly name = 'arp-rcv';
  /** Not drops: what ARP saw and did. */
  readonly mib = new Counters('arp', ARP_MIB);
  private g!: Graph;
  private u8: Uint8Array = new Uint8Array(0);
  private dv: DataView = new DataView(new ArrayBuffer(0));
  private xmit = 0;
  private rTrunc = 0;
  private rHrd = 0;
  private rPro = 0;
  private rHln = 0;
  private rPln = 0;
  private rOp = 0;
  private rSha = 0;
  private rAddr = 0;
  private rOther = 0;
  private rDev = 0;

  constructor(readonly t: NeighTable) {}

  init(g: Graph): void {
    this.g = g;
    this.u8 = g.pool.umem.u8;
    this.dv = g.pool.umem.dv;
    this.xmit = g.id('dev-xmit');
    this.rTrunc = g.reason('arp.truncated');
    this.rHrd = g.reason('arp.bad_hrd');
    this.rPro = g.reason('arp.bad_pro');
    this.rHln = g.reason('arp.bad_hln');
    this.rPln = g.reason('arp.bad_pln');
    this.rOp = g.reason('arp.bad_op');
    this.rSha = g.reason('arp.bad_sha');
    this.rAddr = g.reason('arp.bad_addr');
    this.rOther = g.reason('arp.otherhost');
    this.rDev = g.reason('arp.no_device');
    this.t.attach(g);
  }

  run(b: Batch, v: Uint16Array, n: number): void {
    const g = this.g;
    const u8 = this.u8;
    const dv = this.dv;
    const now = this.t.clock(); // once per batch
    for (let j = 0; j < n; j++) {
      const i = v[j];
      const a = b.addr[i] + b.l3[i];
      if (b.len[i] < b.l3[i] + ARP_LEN) {
        g.drop(b, i, this.rTrunc);
        continue;
      }
      const hrd = dv.getUint16(a + ARP_HRD);
      if (hrd !== ARPHRD_ETHER && hrd !== ARPHRD_IEEE802) {
        g.drop(b, i, this.rHrd);
        continue;
      }
      if (dv.getUint16(a + ARP_PRO) !== ETH_P_IP) {
        g.drop(b, i, this.rPro);
        continue;
      }
      if (u8[a + ARP_HLN] !== 6) {
        g.drop(b, i, this.rHln);
        continue;
      }
      if (u8[a + ARP_PLN] !== 4) {
        g.drop(b, i, this.rPln);
        continue;
      }
      const op = dv.getUint16(a + ARP_OP);
      if (op !== ARPOP_REQUEST && op !== ARPOP_REPLY) {
        g.drop(b, i, this.rOp);
        continue;
      }
      if (b.pkttype[i] === PACKET_OTHERHOST) {
        g.drop(b, i, this.rOther);
        continue;
      }
      // The sender's MAC is what we would learn and answer to: a unicast station address only.
      if (!isValidMac(u8, a + ARP_SHA)) {
        g.drop(b, i, this.rSha);
        continue;
      }
      const sip = dv.getUint32(a + ARP_SPA);
      const tip = dv.getUint32(a + ARP_TPA);
      // Requests for multicast/loopback targets (arp.c), and senders no host can have: multicast,
      // loopback, limited broadcast, 0.x.y.z other than the DAD probe's 0.0.0.0 (the kernel's
      // martian sources, which fail ip_route_input and are never learned).
      if (tip >>> 28 === 14 || tip >>> 24 === 127 || sip >>> 28 === 14 || sip >>> 24 === 127 || sip === 0xffffffff || (sip !== 0 && sip >>> 24 === 0)) {
        g.drop(b, i, this.rAddr);
        continue;
      }
      this.process(b, i, a, op, sip, tip, now);
    }
  }

  /** arp_process after validation: answer, learn, or consume. */
  private process(b: Batch, i: number, a: number, op: number, sip: number, tip: number, now: number): void {
    const t = this.t;
    const dev = b.iif[i];
    const d = t.devs.list[dev];
    if (d === undefined) {
      this.g.drop(b, i, this.rDev);
      return;
    }
    const dv = this.dv;
    const mib = this.mib.v;
    mib[op === ARPOP_REQUEST ? ARP.InRequests : ARP.InReplies]++;
    const forUs = isLocal(d, tip);
    if (sip === 0) {
      // Duplicate address detection probe (RFC 5227): answer if it asks for ours; learn nothing.
      mib[ARP.InProbes]++;
      if (op === ARPOP_REQUEST && forUs) this.reply(b, i, a, dev, sip, tip);
      else this.consume(b, i);
      return;
    }
    if (isLocal(d, sip)) {
      // Someone else claims our address: never learn our own address as a neighbour.
      mib[ARP.Conflicts]++;
      this.consume(b, i);
      return;
    }
    const link = onLink(d, sip);
    if (link === 2) {
      // The subnet's broadcast or network address as a sender: no host has it.
      this.g.drop(b, i, this.rAddr);
      return;
    }
    const hi = dv.getUint32(a + ARP_SHA);
    const lo = dv.getUint16(a + ARP_SHA + 4);
    if (op === ARPOP_REQUEST && forUs) {
      if (link === 0) {
        // A sender not on any of this device's subnets (the kernel's arp_filter / rp_filter
        // refusal, LINUX_MIB_ARPFILTER): no reply, no entry. Otherwise a flood of requests from
        // random sources fills the table with entries no route can ever use.
        mib[ARP.ArpFilter]++;
        this.consume(b, i);
        return;
      }
      t.arpUpdate(dev, sip, hi, lo, false, true, false, now);
      this.reply(b, i, a, dev, sip, tip);
      return;
    }
    // Unicast reply = confirmation (REACHABLE); requests and broadcast replies say STALE.
    // Gratuitous ARP (sender = target; a reply also needs tha = sha) may override the locktime.
    // Only existing entries are updated, unless arp_accept lets these create one.
    const garp = sip === tip && (op === ARPOP_REQUEST || (dv.getUint32(a + ARP_THA) === hi && dv.getUint16(a + ARP_THA + 4) === lo));
    const acc = t.arpAccept;
    const create = (garp || op === ARPOP_REPLY) && (acc === 1 || (acc === 2 && link === 1));
    t.arpUpdate(dev, sip, hi, lo, op === ARPOP_REPLY && b.pkttype[i] === PACKET_HOST, create, garp, now);
    this.consume(b, i);
  }

  /** Rewrite the request at a into our reply, in place, and send it out the receiving device. */
  private reply(b: Batch, i: number, a: number, dev: number, sip: number, tip: number): void {
    const t = this.t;
    const dv = this.dv;
    if (dev >= t.known) t.refreshDevs();
    const shaHi = dv.getUint32(a + ARP_SHA);
    const shaLo = dv.getUint16(a + ARP_SHA + 4);
    const myHi = t.devHi[dev];
    const myLo = t.devLo[dev];
    dv.setUint16(a + ARP_OP, ARPOP_REPLY);
    dv.setUint32(a + ARP_THA, shaHi);
    dv.setUint16(a + ARP_THA + 4, shaLo);
    dv.setUint32(a + ARP_TPA, sip);
    dv.setUint32(a + ARP_SHA, myHi);
    dv.setUint16(a + ARP_SHA + 4, myLo);
    dv.setUint32(a + ARP_SPA, tip);
    // The Ethernet header goes right in front of the ARP header; a VLAN tag, if any, is
    // dev-xmit's to insert (b.oif is the sub-interface). Padding of the request is trimmed.
    const ea = a - ETH_HLEN;
    writeEthHeader(dv, ea, shaHi, shaLo, myHi, myLo, ETH_P_ARP);
    b.addr[i] = ea;
    b.len[i] = ARP_FRAME_LEN;
    b.l3[i] = ETH_HLEN;
    b.l4[i] = 0;
    b.oif[i] = dev;
    this.mib.v[ARP.OutReplies]++;
    this.g.enqueue(this.xmit, i);
  }

  private consume(b: Batch, i: number): void {
    this.mib.v[ARP.Ignored]++;
    this.g.pool.free(b.addr[i]);
  }

  /** Resolved neighbours release their queued packets; send them after this dispatch. */
  flush(): void {
    this.t.drain();
  }
}

/**
 * Where ip sits on d's subnets: 1 a host address of one of them, 2 the network or broadcast
 * address of one (a /31 or /32 has neither), 0 none (off-link).
 */
function onLink(d: NetDevice, ip: number): number {
  const addrs = d.addrs;
  let r = 0;
  for (let k = 0; k < addrs.length; k++) {
    const pl = addrs[k].prefixLen;
    const m = pl === 0 ? 0 : (0xffffffff << (32 - pl)) >>> 0;
    if (((addrs[k].addr ^ ip) & m) >>> 0 !== 0) continue;
    if (pl < 31 && ((ip & ~m) >>> 0 === 0 || (ip | m) >>> 0 === 0xffffffff)) r = 2;
    else return 1;
  }
  return r;
}

/** Is ip one of d's addresses? (arp_ignore=1: answer only for the receiving device's.) */
function isLocal(d: NetDevice, ip: number): boolean {
  const addrs = d.addrs;
  for (let k = 0; k < addrs.length; k++) if (addrs[k].addr >>> 0 === ip) return true;
  return false;
}
