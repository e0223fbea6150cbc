import * as checksum from '../wire/checksum.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as tcp from '../wire/tcp.ts';
import * as udp from '../wire/udp.ts';
// Hot path: imported bindings as module-local consts (src/wire/README.md, "On the hot path").
const { isPartialL4Csum, l4CsumComplete } = checksum;
const { IP_MF, IP_OFFSET, IPPROTO_TCP, IPPROTO_UDP, IPV4_DADDR, IPV4_FRAG_OFF, IPV4_PROTOCOL, IPV4_SADDR } = ipv4;
const { TCP_CHECK, TCP_HLEN } = tcp;
const { UDP_CHECK, UDP_HLEN, UDP_LEN } = udp;

/**
 * Completing partial (CHECKSUM_PARTIAL) TCP/UDP checksums of frames received from a veth peer.
 *
 * Why a guess and not a flag: a kernel host on a veth with tx-checksumming on (the default) hands
 * its TCP/UDP frames over with only the pseudo-header sum in the checksum field; the skb says so
 * (ip_summed), the bytes do not. Linux 6.18 gives XDP, and so AF_XDP, no way to learn ip_summed:
 * the XDP RX metadata kfuncs are bpf_xdp_metadata_rx_timestamp, _rx_hash and _rx_vlan_tag
 * (veth implements all three from the skb); there is no checksum kfunc in 6.18 (checked in its
 * BTF; the one proposed on bpf-next in 2026, bpf_xdp_metadata_rx_checksum, could only report
 * NONE/UNNECESSARY/COMPLETE, never PARTIAL), and XDP_UMEM_TX_METADATA_LEN is TX-side only (it
 * asks the device to checksum, it tells nothing about RX). So on ports flagged here, a checksum
 * field equal to the folded pseudo-header sum is taken as partial and completed as
 * skb_checksum_help would.
 *
 * A genuine full checksum equals that value with probability ~2^-16; completing it then rewrites
 * the same value (the segment's sum already includes the field), so the only effect of a wrong
 * guess is a count, and a corrupted segment whose field happens to match gets a valid checksum
 * (Linux never guesses: it forwards a wrong checksum as is). UDP checksum 0 (none) stays 0.
 * Fragments are left alone: a sender fragmenting a partial-checksum packet completes it first
 * (ip_do_fragment calls skb_checksum_help), and veth peers of an XDP device get no GSO.
 *
 * Done at ingress, before PREROUTING, so netfilter/NAT and local delivery see a full checksum.
 */
export class CsumPartialRx {
  /** Per device index: 1 = frames received on it may carry partial checksums. */
  readonly on = new Uint8Array(256);
  /** Per device index: csum_partial_completed. */
  readonly completed = new Float64Array(256);

  /** Set the flag of a port device (its VLAN devices take it with inherit()). */
  set(dev: number, enabled: boolean): void {
    this.on[dev] = enabled ? 1 : 0;
  }

  /** A VLAN sub-interface receives through its parent's port: same flag. */
  inherit(dev: number, parent: number): void {
    this.on[dev] = this.on[parent];
  }

  /**
   * Packet with a validated IPv4 header at `h` (`ihl` bytes, total length `tot`, all inside the
   * frame) received on device `dev`: complete its TCP/UDP checksum if it is partial.
   */
  complete(dv: DataView, h: number, ihl: number, tot: number, dev: number): void {
    // Fragments (MF or an offset) never carry a partial checksum; see above.
    if ((dv.getUint16(h + IPV4_FRAG_OFF) & (IP_MF | IP_OFFSET)) !== 0) return;
    const proto = dv.getUint8(h + IPV4_PROTOCOL);
    const l4 = h + ihl;
    const len = tot - ihl;
    let off: number;
    if (proto === IPPROTO_UDP) {
      // The UDP length must match what the sender's skb had: a mismatch is a malformed datagram
      // for the receiver to judge, not ours to "fix".
      if (len < UDP_HLEN || dv.getUint16(l4 + UDP_LEN) !== len) return;
      off = UDP_CHECK;
      if (dv.getUint16(l4 + UDP_CHECK) === 0) return;
    } else if (proto === IPPROTO_TCP) {
      if (len < TCP_HLEN) return;
      off = TCP_CHECK;
    } else return;
    if (!isPartialL4Csum(dv.getUint16(l4 + off), dv.getUint32(h + IPV4_SADDR), dv.getUint32(h + IPV4_DADDR), proto, len)) return;
    l4CsumComplete(dv, l4, len, off);
    this.completed[dev]++;
  }
}
