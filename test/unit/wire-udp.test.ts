// src/wire/udp.ts over captured bytes: writeUdpHeader emits Linux's datagram (checksum included),
// the accessors and checks read it back; a CHECKSUM_PARTIAL datagram is completed to the same.
import { describe, expect, it } from 'vitest';
import { parseIPv4 } from '../../src/wire/addr.ts';
import { csumFold, isPartialL4Csum, l4CsumComplete, pseudoHdrSum } from '../../src/wire/checksum.ts';
import { ETH_HLEN } from '../../src/wire/ethernet.ts';
import { IPPROTO_UDP, IPV4_HLEN } from '../../src/wire/ipv4.ts';
import { UDP_CHECK, UDP_DEST, UDP_HLEN, UDP_LEN, UDP_SOURCE, udpCheck, udpCsumOk, udpDport, udpLen, udpLenOk, udpSport, writeUdpHeader } from '../../src/wire/udp.ts';
import { A_IP, B_IP, CAPTURES as C } from '../support/captures.ts';

const dvOf = (f: Uint8Array) => new DataView(f.buffer, f.byteOffset, f.byteLength);
const A = parseIPv4(A_IP);
const B = parseIPv4(B_IP);
const L4 = ETH_HLEN + IPV4_HLEN;
const captured = () => C.udp.slice(L4); // 8 + "hello"

describe('UDP header', () => {
  it('the layout of udp.h', () => {
    expect([UDP_SOURCE, UDP_DEST, UDP_LEN, UDP_CHECK, UDP_HLEN]).toEqual([0, 2, 4, 6, 8]);
  });

  it('reads the captured datagram', () => {
    const u = captured();
    const dv = dvOf(u);
    expect([udpSport(dv, 0), udpDport(dv, 0), udpLen(dv, 0), udpCheck(dv, 0)]).toEqual([4000, 9, 13, 0x9854]);
    expect(udpLenOk(dv, 0, u.length)).toBe(true);
    expect(udpCsumOk(dv, 0, A, B)).toBe(true);
    expect(udpCsumOk(dv, 0, B, A + 1)).toBe(false); // another pseudo-header
  });

  it('writeUdpHeader emits it, with and without a checksum', () => {
    const u = captured();
    u.fill(0, 0, UDP_HLEN);
    writeUdpHeader(dvOf(u), 0, 4000, 9, 13, A, B, true);
    expect(u).toEqual(captured());
    writeUdpHeader(dvOf(u), 0, 4000, 9, 13, A, B, false);
    expect(udpCheck(dvOf(u), 0)).toBe(0);
    expect(udpCsumOk(dvOf(u), 0, 1, 2)).toBe(true); // 0: no checksum, any addresses
  });

  it('a computed checksum of 0 is sent as 0xffff (RFC 768)', () => {
    // A payload word equal to the checksum of the datagram without it makes the sum 0xffff.
    const u = new Uint8Array(UDP_HLEN + 2);
    const dv = dvOf(u);
    writeUdpHeader(dv, 0, 4000, 9, u.length, A, B, true);
    dv.setUint16(UDP_HLEN, udpCheck(dv, 0));
    writeUdpHeader(dv, 0, 4000, 9, u.length, A, B, true);
    expect(udpCheck(dv, 0)).toBe(0xffff);
    expect(udpCsumOk(dv, 0, A, B)).toBe(true);
  });

  it('udpLenOk: the header fits and the length covers it and no more than arrived', () => {
    const dv = dvOf(captured());
    expect(udpLenOk(dv, 0, 7)).toBe(false);
    expect(udpLenOk(dv, 0, 12)).toBe(false); // length 13 > 12 received
    dv.setUint16(UDP_LEN, 7);
    expect(udpLenOk(dv, 0, 13)).toBe(false);
    dv.setUint16(UDP_LEN, 8);
    expect(udpLenOk(dv, 0, 13)).toBe(true); // trailing bytes are allowed (trimmed)
  });

  it('a CHECKSUM_PARTIAL datagram (check = folded pseudo-header sum) completes to the kernel checksum', () => {
    const u = captured();
    const dv = dvOf(u);
    const partial = csumFold(pseudoHdrSum(A, B, IPPROTO_UDP, u.length));
    dv.setUint16(UDP_CHECK, partial);
    expect(isPartialL4Csum(partial, A, B, IPPROTO_UDP, u.length)).toBe(true);
    expect(isPartialL4Csum(0x9854, A, B, IPPROTO_UDP, u.length)).toBe(false);
    l4CsumComplete(dv, 0, u.length, UDP_CHECK);
    expect(u).toEqual(captured());
  });
});
