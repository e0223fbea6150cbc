/**
 * Ethernet II and 802.1Q headers (include/uapi/linux/if_ether.h, if_vlan.h). Offsets are from the
 * frame start. On the hot path a MAC is a (hi u32, lo u16) pair: three compares/stores instead of
 * six bytes.
 */

export const ETH_ALEN = 6;
export const ETH_HLEN = 14;
/** Minimum frame without FCS; shorter frames are padded on the wire. */
export const ETH_ZLEN = 60;
export const ETH_DATA_LEN = 1500;

export const ETH_DST = 0;
export const ETH_SRC = 6;
export const ETH_TYPE = 12;

export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;
export const ETH_P_IPV6 = 0x86dd;

/** An 802.1Q tag sits where the EtherType was: TCI, then the encapsulated EtherType. */
export const VLAN_HLEN = 4;
export const VLAN_TCI = ETH_TYPE + 2;
export const VLAN_ENCAP_TYPE = ETH_TYPE + 4;
export const VLAN_VID_MASK = 0x0fff;

// This file's functions read module-local copies: V8 loads an exported binding from its module
// cell, with a TDZ check, at every use, and folds a local const (README, "On the hot path").
const ALEN = ETH_ALEN;
const DST = ETH_DST;
const SRC = ETH_SRC;
const TYPE = ETH_TYPE;
const P_8021Q = ETH_P_8021Q;
const P_8021AD = ETH_P_8021AD;
const TCI = VLAN_TCI;
const ENCAP_TYPE = VLAN_ENCAP_TYPE;
const VID_MASK = VLAN_VID_MASK;

export function ethType(dv: DataView, f: number): number {
  return dv.getUint16(f + TYPE);
}

export function isVlanType(t: number): boolean {
  return t === P_8021Q || t === P_8021AD;
}

export function vlanId(dv: DataView, f: number): number {
  return dv.getUint16(f + TCI) & VID_MASK;
}

export function vlanEncapType(dv: DataView, f: number): number {
  return dv.getUint16(f + ENCAP_TYPE);
}

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
  for (let k = 0; k < ALEN; k++) if (a[aOff + k] !== b[bOff + k]) return false;
  return true;
}

/** Write dst, src and EtherType at f (14 bytes). */
export function writeEthHeader(dv: DataView, f: number, dstHi: number, dstLo: number, srcHi: number, srcLo: number, type: number): void {
  dv.setUint32(f + DST, dstHi);
  dv.setUint16(f + DST + 4, dstLo);
  dv.setUint32(f + SRC, srcHi);
  dv.setUint16(f + SRC + 4, srcLo);
  dv.setUint16(f + TYPE, type);
}
