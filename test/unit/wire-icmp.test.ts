// src/wire/icmp.ts over captured bytes: writeIcmpHeader emits Linux's echo reply and port
// unreachable (checksum included), the accessors read them back.
import { describe, expect, it } from 'vitest';
import { ETH_HLEN } from '../../src/wire/ethernet.ts';
import {
  ICMP_CHECKSUM,
  ICMP_CODE,
  ICMP_DEST_UNREACH,
  ICMP_ECHO,
  ICMP_ECHO_ID,
  ICMP_ECHO_SEQ,
  ICMP_ECHOREPLY,
  ICMP_HLEN,
  ICMP_PARAMETERPROB,
  ICMP_PORT_UNREACH,
  ICMP_REDIRECT,
  ICMP_SOURCE_QUENCH,
  ICMP_TIME_EXCEEDED,
  ICMP_TIMESTAMP,
  ICMP_TYPE,
  ICMP_UN,
  icmpCode,
  icmpCsumOk,
  icmpIsError,
  icmpType,
  writeIcmpHeader,
} from '../../src/wire/icmp.ts';
import { IPV4_HLEN } from '../../src/wire/ipv4.ts';
import { CAPTURES as C } from '../support/captures.ts';

const dvOf = (f: Uint8Array) => new DataView(f.buffer, f.byteOffset, f.byteLength);
const L4 = ETH_HLEN + IPV4_HLEN;

describe('ICMP header', () => {
  it('the layout of icmp.h', () => {
    expect([ICMP_TYPE, ICMP_CODE, ICMP_CHECKSUM, ICMP_UN, ICMP_ECHO_ID, ICMP_ECHO_SEQ, ICMP_HLEN]).toEqual([0, 1, 2, 4, 4, 6, 8]);
  });

  it('reads captured echo request and reply', () => {
    for (const [f, type, check] of [
      [C.echoRequest, ICMP_ECHO, 0xfb4a],
      [C.echoReply, ICMP_ECHOREPLY, 0x034b],
    ] as const) {
      const dv = dvOf(f);
      expect(icmpType(f, L4)).toBe(type);
      expect(icmpCode(f, L4)).toBe(0);
      expect(dv.getUint16(L4 + ICMP_CHECKSUM)).toBe(check);
      expect(dv.getUint16(L4 + ICMP_ECHO_ID)).toBe(0x2296);
      expect(dv.getUint16(L4 + ICMP_ECHO_SEQ)).toBe(1);
      expect(icmpCsumOk(dv, L4, f.length - L4)).toBe(true);
    }
  });

  it('writeIcmpHeader emits the captured echo reply and port unreachable', () => {
    for (const [f, type, code, rest] of [
      [C.echoRequest, ICMP_ECHO, 0, 0x22960001],
      [C.echoReply, ICMP_ECHOREPLY, 0, 0x22960001],
      [C.portUnreach, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0],
    ] as const) {
      const msg = f.slice(L4);
      msg.fill(0xaa, 0, ICMP_HLEN); // the body stays, the header is written
      writeIcmpHeader(dvOf(msg), 0, type, code, rest, msg.length);
      expect(msg).toEqual(f.subarray(L4));
    }
  });

  it('a changed byte fails the checksum', () => {
    const f = C.echoReply.slice();
    f[f.length - 1] ^= 1;
    expect(icmpCsumOk(dvOf(f), L4, f.length - L4)).toBe(false);
  });

  it('error types are never answered with an error (icmp_pointers[].error)', () => {
    for (const t of [ICMP_DEST_UNREACH, ICMP_SOURCE_QUENCH, ICMP_REDIRECT, ICMP_TIME_EXCEEDED, ICMP_PARAMETERPROB]) expect(icmpIsError(t)).toBe(true);
    for (const t of [ICMP_ECHOREPLY, ICMP_ECHO, ICMP_TIMESTAMP]) expect(icmpIsError(t)).toBe(false);
  });
});
