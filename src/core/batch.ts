/**
 * A vector of packets as struct-of-arrays metadata (VPP's vlib_frame + buffer metadata, the
 * skb fields the receive path needs). Preallocated once; index i is one packet. Offsets are
 * relative to addr[i] (the frame's data start in the UMEM).
 */
export class Batch {
  /** Packets in the batch. */
  n = 0;
  /** Data address in the UMEM. */
  readonly addr: Uint32Array;
  /** Frame length in bytes (after Ethernet padding is trimmed by ip_rcv, the useful length). */
  readonly len: Uint16Array;
  /** Ingress port index. */
  readonly iif: Uint8Array;
  /** Egress port index, set by routing/XDP redirect. */
  readonly oif: Uint8Array;
  /** Offset of the L3 header (after Ethernet/VLAN). */
  readonly l3: Uint16Array;
  /** Offset of the L4 header. */
  readonly l4: Uint16Array;
  /** VLAN id the frame arrived on (0 = untagged). */
  readonly vlan: Uint16Array;
  /** Next-hop IPv4 address (host order), set by the FIB. */
  readonly nh: Uint32Array;
  /** skb->mark. */
  readonly mark: Uint32Array;
  /** Packet type (PACKET_HOST, BROADCAST, MULTICAST, OTHERHOST) set by eth_type_trans. */
  readonly pkttype: Uint8Array;
  /**
   * IPv4 route flags (RTCF_LOCAL/BROADCAST/MULTICAST, ipv4/ctx.ts; the kernel's rt_flags): set by
   * route input, read by ICMP (no reply to a broadcast, which source a reply takes). 0 elsewhere.
   */
  readonly aux: Uint32Array;
  /** skb->_nfct: the packet's conntrack entry and ctinfo (ipv4/conntrack/common.ts), -1 none. */
  readonly nfct: Int32Array;

  constructor(readonly capacity = 256) {
    this.addr = new Uint32Array(capacity);
    this.len = new Uint16Array(capacity);
    this.iif = new Uint8Array(capacity);
    this.oif = new Uint8Array(capacity);
    this.l3 = new Uint16Array(capacity);
    this.l4 = new Uint16Array(capacity);
    this.vlan = new Uint16Array(capacity);
    this.nh = new Uint32Array(capacity);
    this.mark = new Uint32Array(capacity);
    this.pkttype = new Uint8Array(capacity);
    this.aux = new Uint32Array(capacity);
    this.nfct = new Int32Array(capacity).fill(-1);
  }

  /** Append a packet with fresh metadata; returns its index or -1 when full. */
  push(addr: number, len: number, iif: number): number {
    const i = this.n;
    if (i === this.capacity) return -1;
    this.addr[i] = addr;
    this.len[i] = len;
    this.iif[i] = iif;
    this.oif[i] = 0;
    this.l3[i] = 0;
    this.l4[i] = 0;
    this.vlan[i] = 0;
    this.nh[i] = 0;
    this.mark[i] = 0;
    this.pkttype[i] = 0;
    this.aux[i] = 0;
    this.nfct[i] = -1;
    this.n = i + 1;
    return i;
  }
}

export const PACKET_HOST = 0;
export const PACKET_BROADCAST = 1;
export const PACKET_MULTICAST = 2;
export const PACKET_OTHERHOST = 3;
