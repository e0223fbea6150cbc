// src/wire/tcp.ts over captured bytes: writeTcpHeader emits Linux's RST/ACK (checksum included),
// the accessors read it and the SYN with options back.
import { describe, expect, it } from 'vitest';
import { parseIPv4 } from '../../src/wire/addr.ts';
import { csumFold, isPartialL4Csum, l4CsumComplete, pseudoHdrSum } from '../../src/wire/checksum.ts';
import { ETH_HLEN } from '../../src/wire/ethernet.ts';
import { IPPROTO_TCP, IPV4_HLEN } from '../../src/wire/ipv4.ts';
import {
  TCP_ACK,
  TCP_ACK_SEQ,
  TCP_CHECK,
  TCP_DEST,
  TCP_DOFF,
  TCP_FLAGS,
  TCP_HLEN,
  TCP_RST,
  TCP_SEQ,
  TCP_SOURCE,
  TCP_SYN,
  TCP_URG_PTR,
  TCP_WINDOW,
  TCPOPT_MSS,
  TCPOPT_NOP,
  TCPOPT_SACK_PERM,
  TCPOPT_TIMESTAMP,
  TCPOPT_WINDOW,
  tcpAckSeq,
  tcpCsumOk,
  tcpDport,
  tcpFlags,
  tcpHdrLen,
  tcpHdrOk,
  tcpSeq,
  tcpSport,
  tcpWindow,
  writeTcpHeader,
} from '../../src/wire/tcp.ts';
import { A_IP, B_IP, CAPTURES as C } from '../support/captures.ts';

const dvOf = (f: Uint8Array) => new DataView(f.buffer, f.byteOffset, f.byteLength);
const A = parseIPv4(A_IP);
const B = parseIPv4(B_IP);
const L4 = ETH_HLEN + IPV4_HLEN;

describe('TCP header', () => {
  it('the layout of tcp.h', () => {
    expect([TCP_SOURCE, TCP_DEST, TCP_SEQ, TCP_ACK_SEQ, TCP_DOFF, TCP_FLAGS, TCP_WINDOW, TCP_CHECK, TCP_URG_PTR, TCP_HLEN]).toEqual([0, 2, 4, 8, 12, 13, 14, 16, 18, 20]);
  });

  it('reads the captured SYN (doff 10, options) and checks it', () => {
    const s = C.tcpSyn.slice(L4);
    const dv = dvOf(s);
    expect([tcpSport(dv, 0), tcpDport(dv, 0), tcpSeq(dv, 0), tcpAckSeq(dv, 0)]).toEqual([35810, 80, 2214357693, 0]);
    expect(tcpFlags(s, 0)).toBe(TCP_SYN);
    expect(tcpWindow(dv, 0)).toBe(64240);
    expect(tcpHdrLen(s, 0)).toBe(40);
    expect([s[20], s[21], dv.getUint16(22)]).toEqual([TCPOPT_MSS, 4, 1460]);
    expect([s[24], s[26], s[36], s[37]]).toEqual([TCPOPT_SACK_PERM, TCPOPT_TIMESTAMP, TCPOPT_NOP, TCPOPT_WINDOW]);
    expect(tcpHdrOk(s, 0, 40)).toBe(true);
    expect(tcpHdrOk(s, 0, 39)).toBe(false); // the options run past what arrived
    expect(tcpCsumOk(dv, 0, 40, A, B)).toBe(true);
    expect(tcpCsumOk(dv, 0, 40, B, A + 1)).toBe(false);
  });

  it('tcpHdrOk refuses a data offset below 5 and segments shorter than a header', () => {
    const s = C.tcpRst.slice(L4);
    expect(tcpHdrOk(s, 0, 19)).toBe(false);
    s[TCP_DOFF] = 4 << 4;
    expect(tcpHdrOk(s, 0, 20)).toBe(false);
  });

  it('writeTcpHeader emits the captured RST/ACK, the accessors read it back', () => {
    const out = new Uint8Array(TCP_HLEN).fill(0xaa);
    const dv = dvOf(out);
    writeTcpHeader(dv, 0, 80, 35810, 0, 0x83fc6abe, TCP_RST | TCP_ACK, 0, TCP_HLEN, B, A);
    expect(out).toEqual(C.tcpRst.subarray(L4));
    expect([tcpSport(dv, 0), tcpDport(dv, 0), tcpSeq(dv, 0), tcpAckSeq(dv, 0), tcpWindow(dv, 0)]).toEqual([80, 35810, 0, 0x83fc6abe, 0]);
    expect(tcpFlags(out, 0)).toBe(TCP_RST | TCP_ACK);
    expect(tcpHdrLen(out, 0)).toBe(TCP_HLEN);
    expect(tcpCsumOk(dv, 0, TCP_HLEN, B, A)).toBe(true);
  });

  it('a CHECKSUM_PARTIAL segment (check = folded pseudo-header sum) completes to the kernel checksum', () => {
    const s = C.tcpSyn.slice(L4);
    const dv = dvOf(s);
    const partial = csumFold(pseudoHdrSum(A, B, IPPROTO_TCP, s.length));
    dv.setUint16(TCP_CHECK, partial);
    expect(isPartialL4Csum(partial, A, B, IPPROTO_TCP, s.length)).toBe(true);
    l4CsumComplete(dv, 0, s.length, TCP_CHECK);
    expect(s).toEqual(C.tcpSyn.subarray(L4));
  });
});
