import * as ethernet from '../wire/ethernet.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as tcp from '../wire/tcp.ts';
import * as udp from '../wire/udp.ts';
import type { NetDevices } from './netdev.ts';
// Hot path: wire's bindings as module-local consts (src/wire/README.md, "On the hot path").
const { ETH_HLEN, ETH_P_IP, ETH_P_8021AD, ETH_P_8021Q, ETH_TYPE, VLAN_ENCAP_TYPE, VLAN_HLEN, VLAN_TCI, VLAN_VID_MASK } = ethernet;
const { IP_OFFSET, IPPROTO_TCP, IPPROTO_UDP, IPV4_DADDR, IPV4_FRAG_OFF, IPV4_HLEN, IPV4_PROTOCOL, IPV4_SADDR, IPV4_TTL, IPV4_VIHL } = ipv4;
const { TCP_FLAGS } = tcp;
const { UDP_DEST, UDP_SOURCE } = udp;

/** XDP verdicts, the kernel's values (enum xdp_action). */
export const XDP_ABORTED = 0;
export const XDP_DROP = 1;
export const XDP_PASS = 2;
export const XDP_TX = 3;
export const XDP_REDIRECT = 4;

/** Maps a filter keeps state in (compiled: kernel BPF maps), re-exported for filter authors. */
export { defineMap, XdpMap, type MapKind, type MapSpec, type MapType } from './xdp-map.ts';

/** TCP flag bits for tcpFlags(), re-exported for filter authors. */
export { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../wire/tcp.ts';

/** Bytes a TCP or UDP header needs for both ports (the two put them at the same offsets). */
const L4_PORTS = UDP_DEST + 2;

// Parse levels reached for the current packet (parsing is lazy: a filter pays for what it reads).
const NONE = 0;
const L2 = 1;
const L3 = 2;

/**
 * The one context object an XDP-style filter sees (struct xdp_md + the usual parsing helpers).
 * It is reused for every packet: a filter must not keep it or its values across calls. Frame
 * bytes are u8[data .. data + len) and may be rewritten in place (e.g. to swap MACs before TX).
 * Field helpers bounds-check against len and return -1 when the field is absent or truncated;
 * offsets they use are relative to `data`.
 */
export class XdpContext {
  u8: Uint8Array;
  dv: DataView;
  /** Start of the frame (Ethernet header) in u8. */
  data = 0;
  /** Frame length. */
  len = 0;
  /** NetDevice index the frame arrived on (Batch.iif). */
  ifindex = 0;
  /** Whole ms on the performance.now() scale, as of the current poll round (coarseClock): for rate limits. Compiled: CLOCK_MONOTONIC ms (only differences mean anything). */
  nowMs = 0;
  /** Target of the last redirect() on this packet, -1 if none. */
  redirectTo = -1;

  private level = NONE;
  private etype = -1;
  private vid = -1;
  private l3o = -1;
  private proto = -1;
  private l4o = -1;

  constructor(
    u8: Uint8Array,
    private readonly devs: NetDevices | null = null,
  ) {
    this.u8 = u8;
    this.dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  }

  /** Point the context at a packet (the hook does this; tests may too). */
  set(data: number, len: number, ifindex: number): void {
    this.data = data;
    this.len = len;
    this.ifindex = ifindex;
    this.redirectTo = -1;
    this.level = NONE;
  }

  /** EtherType, after one 802.1Q/802.1ad tag if present; -1 if the frame is too short. */
  ethType(): number {
    if (this.level < L2) this.parseL2();
    return this.etype;
  }

  /** VLAN id of the (outer) tag, -1 if untagged. */
  vlanId(): number {
    if (this.level < L2) this.parseL2();
    return this.vid;
  }

  /** Offset of the L3 header from data, -1 if the frame is too short for Ethernet. */
  l3Offset(): number {
    if (this.level < L2) this.parseL2();
    return this.l3o;
  }

  /** IPv4 protocol number, -1 if not a well-formed IPv4 header. */
  ipProto(): number {
    if (this.level < L3) this.parseL3();
    return this.proto;
  }

  /** IPv4 source address (host order, unsigned), -1 if not IPv4. */
  ipSrc(): number {
    if (this.level < L3) this.parseL3();
    return this.proto < 0 ? -1 : this.dv.getUint32(this.data + this.l3o + IPV4_SADDR);
  }

  /** IPv4 destination address (host order, unsigned), -1 if not IPv4. */
  ipDst(): number {
    if (this.level < L3) this.parseL3();
    return this.proto < 0 ? -1 : this.dv.getUint32(this.data + this.l3o + IPV4_DADDR);
  }

  /** IPv4 TTL, -1 if not IPv4. */
  ipTtl(): number {
    if (this.level < L3) this.parseL3();
    return this.proto < 0 ? -1 : this.u8[this.data + this.l3o + IPV4_TTL];
  }

  /** Offset of the L4 header, -1 if not IPv4, a non-first fragment, or beyond the frame. */
  l4Offset(): number {
    if (this.level < L3) this.parseL3();
    return this.l4o;
  }

  /** TCP/UDP source port, -1 if absent. */
  l4Sport(): number {
    if (this.level < L3) this.parseL3();
    const o = this.l4o;
    if (o < 0 || (this.proto !== IPPROTO_TCP && this.proto !== IPPROTO_UDP) || o + L4_PORTS > this.len) return -1;
    return this.dv.getUint16(this.data + o + UDP_SOURCE);
  }

  /** TCP/UDP destination port, -1 if absent. */
  l4Dport(): number {
    if (this.level < L3) this.parseL3();
    const o = this.l4o;
    if (o < 0 || (this.proto !== IPPROTO_TCP && this.proto !== IPPROTO_UDP) || o + L4_PORTS > this.len) return -1;
    return this.dv.getUint16(this.data + o + UDP_DEST);
  }

  /** TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10...), -1 if not TCP. */
  tcpFlags(): number {
    if (this.level < L3) this.parseL3();
    const o = this.l4o;
    if (o < 0 || this.proto !== IPPROTO_TCP || o + TCP_FLAGS + 1 > this.len) return -1;
    return this.u8[this.data + o + TCP_FLAGS];
  }

  /** Byte at offset `off` from data, -1 beyond the frame (what a compiled filter reads with a bounds check). */
  u8At(off: number): number {
    return off >= 0 && off + 1 <= this.len ? this.u8[this.data + off] : -1;
  }

  /** Big-endian 16-bit field at offset `off` from data, -1 if it is not all inside the frame. */
  u16At(off: number): number {
    return off >= 0 && off + 2 <= this.len ? this.dv.getUint16(this.data + off) : -1;
  }

  /** Big-endian 32-bit field at offset `off` from data (unsigned), -1 if it is not all inside the frame. */
  u32At(off: number): number {
    return off >= 0 && off + 4 <= this.len ? this.dv.getUint32(this.data + off) : -1;
  }

  /** bpf_redirect(): send the frame out of device `dev` (a NetDevice index). Return its result. */
  redirect(dev: number): number {
    this.redirectTo = dev;
    return XDP_REDIRECT;
  }

  /** Index of a device by name, -1 if none (setup time: allocates a lookup, not for per packet). */
  deviceIndex(name: string): number {
    const d = this.devs?.find(name);
    return d === undefined ? -1 : d.index;
  }

  private parseL2(): void {
    this.level = L2;
    this.vid = -1;
    const d = this.data;
    if (this.len < ETH_HLEN) {
      this.etype = -1;
      this.l3o = -1;
      return;
    }
    const t = this.dv.getUint16(d + ETH_TYPE);
    if (t === ETH_P_8021Q || t === ETH_P_8021AD) {
      if (this.len < ETH_HLEN + VLAN_HLEN) {
        this.etype = -1;
        this.l3o = -1;
        return;
      }
      this.vid = this.dv.getUint16(d + VLAN_TCI) & VLAN_VID_MASK;
      this.etype = this.dv.getUint16(d + VLAN_ENCAP_TYPE);
      this.l3o = ETH_HLEN + VLAN_HLEN;
      return;
    }
    this.etype = t;
    this.l3o = ETH_HLEN;
  }

  private parseL3(): void {
    if (this.level < L2) this.parseL2();
    this.level = L3;
    this.proto = -1;
    this.l4o = -1;
    const o = this.l3o;
    if (this.etype !== ETH_P_IP || o + IPV4_HLEN > this.len) return;
    const p = this.data + o;
    const vihl = this.u8[p + IPV4_VIHL];
    const ihl = (vihl & 0x0f) << 2;
    if (vihl >> 4 !== 4 || ihl < IPV4_HLEN) return;
    this.proto = this.u8[p + IPV4_PROTOCOL];
    // Only the first fragment carries the L4 header.
    if ((this.dv.getUint16(p + IPV4_FRAG_OFF) & IP_OFFSET) !== 0) return;
    const l4 = o + ihl;
    if (l4 <= this.len) this.l4o = l4;
  }
}
