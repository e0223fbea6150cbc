import { ETH_HLEN, ETH_P_ARP, ETH_P_IP, writeEthHeader } from './ethernet.ts';

/**
 * ARP for IPv4 over Ethernet (RFC 826, include/uapi/linux/if_arp.h): offsets from the ARP header
 * start and a builder for the requests and replies we originate. Only the 28-byte Ethernet/IPv4
 * form exists for us; anything else is refused by arp-rcv before these offsets are used.
 */
export const ARP_HRD = 0; // hardware type
export const ARP_PRO = 2; // protocol type
export const ARP_HLN = 4; // hardware address length
export const ARP_PLN = 5; // protocol address length
export const ARP_OP = 6;
export const ARP_SHA = 8; // sender hardware address
export const ARP_SPA = 14; // sender protocol address
export const ARP_THA = 18; // target hardware address
export const ARP_TPA = 24; // target protocol address
export const ARP_LEN = 28;

export const ARPHRD_ETHER = 1;
export const ARPHRD_IEEE802 = 6;
export const ARPOP_REQUEST = 1;
export const ARPOP_REPLY = 2;

/** An ARP frame is 42 bytes; NICs pad to 60 on the wire, we do not need to. */
export const ARP_FRAME_LEN = ETH_HLEN + ARP_LEN;

// This file's functions read module-local copies: V8 loads an exported (or imported) binding
// from its module cell, with a TDZ check, at every use, and folds a local const (README, "On the
// hot path"). neigh-solicit builds a request per resolution.
const HRD = ARP_HRD;
const PRO = ARP_PRO;
const HLN = ARP_HLN;
const PLN = ARP_PLN;
const OP = ARP_OP;
const SHA = ARP_SHA;
const SPA = ARP_SPA;
const THA = ARP_THA;
const TPA = ARP_TPA;
const HRD_ETHER = ARPHRD_ETHER;
const FRAME_LEN = ARP_FRAME_LEN;
const P_IP = ETH_P_IP;
const P_ARP = ETH_P_ARP;
const HLEN = ETH_HLEN;

/** Write the 28-byte Ethernet/IPv4 ARP header at a. MACs are (hi u32, lo u16) pairs. */
export function writeArp(dv: DataView, a: number, op: number, shaHi: number, shaLo: number, spa: number, thaHi: number, thaLo: number, tpa: number): void {
  dv.setUint16(a + HRD, HRD_ETHER);
  dv.setUint16(a + PRO, P_IP);
  dv.setUint8(a + HLN, 6);
  dv.setUint8(a + PLN, 4);
  dv.setUint16(a + OP, op);
  dv.setUint32(a + SHA, shaHi);
  dv.setUint16(a + SHA + 4, shaLo);
  dv.setUint32(a + SPA, spa >>> 0);
  dv.setUint32(a + THA, thaHi);
  dv.setUint16(a + THA + 4, thaLo);
  dv.setUint32(a + TPA, tpa >>> 0);
}

/**
 * Build an Ethernet/ARP frame at addr (arp_create). A target hardware address of (0, 0) is what
 * requests carry. Returns the frame length.
 */
export function buildArp(
  dv: DataView,
  addr: number,
  op: number,
  ethDstHi: number,
  ethDstLo: number,
  shaHi: number,
  shaLo: number,
  spa: number,
  thaHi: number,
  thaLo: number,
  tpa: number,
): number {
  writeEthHeader(dv, addr, ethDstHi, ethDstLo, shaHi, shaLo, P_ARP);
  writeArp(dv, addr + HLEN, op, shaHi, shaLo, spa, thaHi, thaLo, tpa);
  return FRAME_LEN;
}
