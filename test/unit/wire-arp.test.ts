// src/wire/arp.ts over captured bytes: writeArp/buildArp emit what Linux sent; the offsets read
// the fields back.
import { describe, expect, it } from 'vitest';
import { parseIPv4, parseMac } from '../../src/wire/addr.ts';
import {
  ARP_FRAME_LEN,
  ARP_HLN,
  ARP_HRD,
  ARP_LEN,
  ARP_OP,
  ARP_PLN,
  ARP_PRO,
  ARP_SHA,
  ARP_SPA,
  ARP_THA,
  ARP_TPA,
  ARPHRD_ETHER,
  ARPOP_REPLY,
  ARPOP_REQUEST,
  buildArp,
  writeArp,
} from '../../src/wire/arp.ts';
import { ETH_HLEN, ETH_P_IP, macHi, macLo } from '../../src/wire/ethernet.ts';
import { A_IP, A_MAC, B_IP, B_MAC, CAPTURES as C } from '../support/captures.ts';

const dvOf = (f: Uint8Array) => new DataView(f.buffer, f.byteOffset, f.byteLength);
const a = parseMac(A_MAC);
const b = parseMac(B_MAC);

describe('ARP (Ethernet/IPv4)', () => {
  it('the layout of if_arp.h', () => {
    expect([ARP_HRD, ARP_PRO, ARP_HLN, ARP_PLN, ARP_OP, ARP_SHA, ARP_SPA, ARP_THA, ARP_TPA, ARP_LEN]).toEqual([0, 2, 4, 5, 6, 8, 14, 18, 24, 28]);
    expect(ARP_FRAME_LEN).toBe(42);
  });

  it('reads a captured request and reply', () => {
    for (const [f, op, sha, spa, tpa] of [
      [C.arpRequest, ARPOP_REQUEST, a, A_IP, B_IP],
      [C.arpReply, ARPOP_REPLY, b, B_IP, A_IP],
    ] as const) {
      const dv = dvOf(f);
      const h = ETH_HLEN;
      expect(dv.getUint16(h + ARP_HRD)).toBe(ARPHRD_ETHER);
      expect(dv.getUint16(h + ARP_PRO)).toBe(ETH_P_IP);
      expect([f[h + ARP_HLN], f[h + ARP_PLN]]).toEqual([6, 4]);
      expect(dv.getUint16(h + ARP_OP)).toBe(op);
      expect(f.subarray(h + ARP_SHA, h + ARP_SHA + 6)).toEqual(sha);
      expect(dv.getUint32(h + ARP_SPA)).toBe(parseIPv4(spa));
      expect(dv.getUint32(h + ARP_TPA)).toBe(parseIPv4(tpa));
    }
    expect(C.arpReply.subarray(ETH_HLEN + ARP_THA, ETH_HLEN + ARP_THA + 6)).toEqual(a);
  });

  it('writeArp emits the captured header', () => {
    const out = new Uint8Array(ARP_LEN);
    writeArp(dvOf(out), 0, ARPOP_REQUEST, macHi(a), macLo(a), parseIPv4(A_IP), 0, 0, parseIPv4(B_IP));
    expect(out).toEqual(C.arpRequest.subarray(ETH_HLEN));
    writeArp(dvOf(out), 0, ARPOP_REPLY, macHi(b), macLo(b), parseIPv4(B_IP), macHi(a), macLo(a), parseIPv4(A_IP));
    expect(out).toEqual(C.arpReply.subarray(ETH_HLEN));
  });

  it('buildArp emits the captured frames (arp_create)', () => {
    const buf = new Uint8Array(100);
    const dv = dvOf(buf);
    expect(buildArp(dv, 10, ARPOP_REQUEST, 0xffffffff, 0xffff, macHi(a), macLo(a), parseIPv4(A_IP), 0, 0, parseIPv4(B_IP))).toBe(ARP_FRAME_LEN);
    expect(buf.subarray(10, 10 + ARP_FRAME_LEN)).toEqual(C.arpRequest);
    buildArp(dv, 0, ARPOP_REPLY, macHi(a), macLo(a), macHi(b), macLo(b), parseIPv4(B_IP), macHi(a), macLo(a), parseIPv4(A_IP));
    expect(buf.subarray(0, ARP_FRAME_LEN)).toEqual(C.arpReply);
  });
});
