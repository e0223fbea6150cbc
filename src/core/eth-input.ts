import * as ethernet from '../wire/ethernet.ts';
import * as batchMod from './batch.ts';
import type { Batch } from './batch.ts';
import type { Graph, Stage } from './graph.ts';
import type { NetDevices } from './netdev.ts';
import type { PtypeTable } from './ptype.ts';
// Hot path: wire's bindings as module-local consts (src/wire/README.md, "On the hot path").
const { ETH_DST, ETH_HLEN, ETH_P_8021Q, ETH_P_IPV6, ETH_TYPE, VLAN_ENCAP_TYPE, VLAN_HLEN, VLAN_TCI, VLAN_VID_MASK, macHi, macLo } = ethernet;
const { PACKET_BROADCAST, PACKET_HOST, PACKET_MULTICAST, PACKET_OTHERHOST } = batchMod;

/**
 * `eth-input`: eth_type_trans + VLAN untag + ptype dispatch (__netif_receive_skb_core).
 * Sets b.pkttype from the destination MAC, moves 802.1Q frames to their VLAN sub-interface
 * (b.iif, b.vlan), sets b.l3 and hands the packet to the stage registered for its EtherType.
 * b.iif must be the port device on entry (the poll loop sets it).
 */
export class EthInput implements Stage {
  readonly name = 'eth-input';
  /** Per device: accept frames for other MACs (PACKET_OTHERHOST) instead of dropping them. */
  readonly promisc = new Uint8Array(256);

  private g!: Graph;
  private u8: Uint8Array = new Uint8Array(0);
  private dv: DataView = new DataView(new ArrayBuffer(0));
  private rShort = 0;
  private rOther = 0;
  private rVlan = 0;
  private rIpv6 = 0;
  private rUnknown = 0;
  // Device MACs as a 32 + 16 bit pair so the host check is two integer compares.
  private readonly devHi = new Uint32Array(256);
  private readonly devLo = new Uint16Array(256);
  private known = -1;

  constructor(
    readonly devs: NetDevices,
    readonly ptype: PtypeTable,
  ) {}

  init(g: Graph): void {
    this.g = g;
    this.u8 = g.pool.umem.u8;
    this.dv = g.pool.umem.dv;
    this.rShort = g.reason('eth.rx_length_errors');
    this.rOther = g.reason('eth.otherhost');
    this.rVlan = g.reason('eth.vlan_unknown');
    this.rIpv6 = g.reason('eth.ipv6_unsupported');
    // Kernel name for frames no protocol handler wants: rx_nohandler.
    this.rUnknown = g.reason('eth.unknown_ethertype');
    this.ptype.bind(g);
    this.refresh();
  }

  run(b: Batch, v: Uint16Array, n: number): void {
    if (this.devs.list.length !== this.known) this.refresh();
    const g = this.g;
    const u8 = this.u8;
    const dv = this.dv;
    const ids = this.ptype.ids;
    const devHi = this.devHi;
    const devLo = this.devLo;
    for (let j = 0; j < n; j++) {
      const i = v[j];
      const a = b.addr[i];
      if (b.len[i] < ETH_HLEN) {
        g.drop(b, i, this.rShort);
        continue;
      }
      const dev = b.iif[i];
      let pt = PACKET_HOST;
      // The destination MAC: its group bit, then compared as a (hi u32, lo u16) pair.
      if ((u8[a + ETH_DST] & 1) !== 0) {
        pt = dv.getUint32(a + ETH_DST) === 0xffffffff && dv.getUint16(a + ETH_DST + 4) === 0xffff ? PACKET_BROADCAST : PACKET_MULTICAST;
      } else if (dv.getUint32(a + ETH_DST) !== devHi[dev] || dv.getUint16(a + ETH_DST + 4) !== devLo[dev]) {
        if (this.promisc[dev] === 0) {
          g.drop(b, i, this.rOther);
          continue;
        }
        pt = PACKET_OTHERHOST;
      }
      let type = dv.getUint16(a + ETH_TYPE);
      let l3 = ETH_HLEN;
      if (type === ETH_P_8021Q) {
        if (!this.untag(b, i, dev)) continue;
        l3 = ETH_HLEN + VLAN_HLEN;
        type = dv.getUint16(a + VLAN_ENCAP_TYPE);
      }
      const next = ids[type];
      if (next >= 0) {
        b.l3[i] = l3;
        b.pkttype[i] = pt;
        g.enqueue(next, i);
      } else {
        g.drop(b, i, type === ETH_P_IPV6 ? this.rIpv6 : this.rUnknown);
      }
    }
  }

  /** 802.1Q: move the packet to the sub-interface for its VID (VID 0 = priority tag: stays). */
  private untag(b: Batch, i: number, dev: number): boolean {
    if (b.len[i] < ETH_HLEN + VLAN_HLEN) {
      this.g.drop(b, i, this.rShort);
      return false;
    }
    const vid = this.dv.getUint16(b.addr[i] + VLAN_TCI) & VLAN_VID_MASK;
    if (vid === 0) return true;
    const sub = this.devs.vlanIndex(dev, vid);
    if (sub < 0 || !this.devs.list[sub].up) {
      this.g.drop(b, i, this.rVlan);
      return false;
    }
    b.iif[i] = sub;
    b.vlan[i] = vid;
    return true;
  }

  private refresh(): void {
    const list = this.devs.list;
    for (let d = 0; d < list.length; d++) {
      this.devHi[d] = macHi(list[d].mac);
      this.devLo[d] = macLo(list[d].mac);
    }
    this.known = list.length;
  }
}
