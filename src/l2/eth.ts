/**
 * Ethernet header layout and MAC helpers (include/uapi/linux/if_ether.h, net/ethernet/eth.c).
 * On the hot path a MAC is a (hi u32, lo u16) pair: three compares/stores instead of six bytes.
 * The string helpers are for the control plane and tests only.
 */

export const ETH_ALEN = 6;
export const ETH_HLEN = 14;
export const ETH_DST = 0;
export const ETH_SRC = 6;
export const ETH_TYPE = 12;
export const VLAN_HLEN = 4;

export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_8021Q = 0x8100;
export const ETH_P_IPV6 = 0x86dd;

/** First four bytes of the MAC at u8[off] as a big-endian u32. */
export function macHi(u8: Uint8Array, off = 0): number {
  return ((u8[off] << 24) | (u8[off + 1] << 16) | (u8[off + 2] << 8) | u8[off + 3]) >>> 0;
}

/** Last two bytes of the MAC at u8[off] as a big-endian u16. */
export function macLo(u8: Uint8Array, off = 0): number {
  return (u8[off + 4] << 8) | u8[off + 5];
}

/** Group bit set: multicast or broadcast (is_multicast_ether_addr). */
export function isMulticastMac(u8: Uint8Array, off: number): boolean {
  return (u8[off] & 1) !== 0;
}

export function isZeroMac(u8: Uint8Array, off: number): boolean {
  return (u8[off] | u8[off + 1] | u8[off + 2] | u8[off + 3] | u8[off + 4] | u8[off + 5]) === 0;
}

/** A usable unicast station address (is_valid_ether_addr): not multicast, not broadcast, not zero. */
export function isValidMac(u8: Uint8Array, off: number): boolean {
  return (u8[off] & 1) === 0 && !isZeroMac(u8, off);
}

export function macEqual(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  for (let k = 0; k < ETH_ALEN; k++) if (a[aOff + k] !== b[bOff + k]) return false;
  return true;
}

/** Write dst, src and EtherType at addr (14 bytes). */
export function writeEthHeader(dv: DataView, addr: number, dstHi: number, dstLo: number, srcHi: number, srcLo: number, type: number): void {
  dv.setUint32(addr, dstHi);
  dv.setUint16(addr + 4, dstLo);
  dv.setUint32(addr + 6, srcHi);
  dv.setUint16(addr + 10, srcLo);
  dv.setUint16(addr + 12, type);
}

/** "aa:bb:cc:dd:ee:ff" from a (hi, lo) pair. */
export function macPairToString(hi: number, lo: number): string {
  const b = [hi >>> 24, (hi >>> 16) & 255, (hi >>> 8) & 255, hi & 255, lo >>> 8, lo & 255];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export function formatMac(u8: Uint8Array, off = 0): string {
  return macPairToString(macHi(u8, off), macLo(u8, off));
}

/** Parse "aa:bb:cc:dd:ee:ff" (or with '-'); throws naming the input when it is not a MAC. */
export function parseMac(s: string): Uint8Array<ArrayBuffer> {
  const parts = s.trim().split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new Error(`"${s}" is not a MAC address (expected six hex bytes like 02:00:00:00:00:01)`);
  }
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

/** Dotted quad from a host-order u32 (slow path: dumps and messages). */
export function formatIp(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/** Host-order u32 from a dotted quad; throws naming the input. */
export function parseIp(s: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.trim());
  if (m === null || m.slice(1).some((x) => Number(x) > 255)) throw new Error(`"${s}" is not an IPv4 address (expected a.b.c.d)`);
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}
