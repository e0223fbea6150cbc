// src/wire/ethernet.ts over captured bytes: the header written by writeEthHeader is the one Linux
// sent, and the accessors read it back (smoltcp-style parse/emit symmetry); 802.1Q tags too.
import { describe, expect, it } from 'vitest';
import { formatMac, parseMac } from '../../src/wire/addr.ts';
import {
  ETH_DST,
  ETH_HLEN,
  ETH_P_8021AD,
  ETH_P_8021Q,
  ETH_P_ARP,
  ETH_P_IP,
  ETH_SRC,
  ETH_TYPE,
  VLAN_ENCAP_TYPE,
  VLAN_HLEN,
  VLAN_TCI,
  ethType,
  isMulticastMac,
  isValidMac,
  isVlanType,
  isZeroMac,
  macEqual,
  macHi,
  macLo,
  vlanEncapType,
  vlanId,
  writeEthHeader,
} from '../../src/wire/ethernet.ts';
import { A_MAC, B_MAC, CAPTURES as C, hex } from '../support/captures.ts';

const dvOf = (f: Uint8Array) => new DataView(f.buffer, f.byteOffset, f.byteLength);

describe('Ethernet header', () => {
  it('the layout of if_ether.h', () => {
    expect([ETH_DST, ETH_SRC, ETH_TYPE, ETH_HLEN]).toEqual([0, 6, 12, 14]);
    expect([VLAN_TCI, VLAN_ENCAP_TYPE, VLAN_HLEN]).toEqual([14, 16, 4]);
  });

  it('reads a captured header', () => {
    const f = C.echoRequest;
    const dv = dvOf(f);
    expect(ethType(dv, 0)).toBe(ETH_P_IP);
    expect(formatMac(f, ETH_DST)).toBe(B_MAC);
    expect(formatMac(f, ETH_SRC)).toBe(A_MAC);
    expect(macHi(f, ETH_DST)).toBe(0x02000a01);
    expect(macLo(f, ETH_DST)).toBe(0x0001);
    expect(isMulticastMac(f, ETH_DST)).toBe(false);
    expect(isValidMac(f, ETH_SRC)).toBe(true);
    expect(ethType(dvOf(C.arpRequest), 0)).toBe(ETH_P_ARP);
  });

  it('writes the same bytes', () => {
    for (const f of [C.echoRequest, C.echoReply, C.arpRequest, C.arpReply, C.tcpRst]) {
      const out = new Uint8Array(ETH_HLEN);
      writeEthHeader(dvOf(out), 0, macHi(f, ETH_DST), macLo(f, ETH_DST), macHi(f, ETH_SRC), macLo(f, ETH_SRC), ethType(dvOf(f), 0));
      expect(out).toEqual(f.subarray(0, ETH_HLEN));
    }
  });

  it('writes at an offset into a larger buffer', () => {
    const buf = new Uint8Array(64).fill(0xee);
    const a = parseMac(A_MAC);
    const b = parseMac(B_MAC);
    writeEthHeader(dvOf(buf), 20, macHi(b), macLo(b), macHi(a), macLo(a), ETH_P_IP);
    expect(buf.subarray(20, 34)).toEqual(C.echoRequest.subarray(0, ETH_HLEN));
    expect(buf[19]).toBe(0xee);
    expect(buf[34]).toBe(0xee);
  });

  it('classifies addresses (is_multicast/is_zero/is_valid_ether_addr)', () => {
    const bcast = C.arpRequest; // dst ff:ff:ff:ff:ff:ff
    expect(isMulticastMac(bcast, ETH_DST)).toBe(true);
    expect(isValidMac(bcast, ETH_DST)).toBe(false);
    const m = hex('0100 5e00 0001 0000 0000 0000');
    expect(isMulticastMac(m, 0)).toBe(true);
    expect(isZeroMac(m, 6)).toBe(true);
    expect(isValidMac(m, 6)).toBe(false);
    expect(macEqual(C.arpReply, ETH_DST, C.arpRequest, ETH_SRC)).toBe(true);
    expect(macEqual(C.arpReply, ETH_DST, C.arpReply, ETH_SRC)).toBe(false);
  });
});

describe('802.1Q tag', () => {
  // The captured echo request with a tag (PCP 5, VID 10) where the EtherType was.
  const tagged = hex('0200 0a01 0001 0200 0a01 0002 8100 a00a 0800 4500 0054 20f0 4000 4001 05b5 0a01 0002 0a01 0001');

  it('reads TCI and the encapsulated EtherType', () => {
    const dv = dvOf(tagged);
    expect(ethType(dv, 0)).toBe(ETH_P_8021Q);
    expect(isVlanType(ETH_P_8021Q)).toBe(true);
    expect(isVlanType(ETH_P_8021AD)).toBe(true);
    expect(isVlanType(ETH_P_IP)).toBe(false);
    expect(vlanId(dv, 0)).toBe(10); // the priority bits are not part of the VID
    expect(vlanEncapType(dv, 0)).toBe(ETH_P_IP);
    expect(tagged.subarray(ETH_HLEN + VLAN_HLEN)).toEqual(C.echoRequest.subarray(ETH_HLEN, ETH_HLEN + 20));
  });
});
