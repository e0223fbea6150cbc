// src/wire/ipv4.ts and ipv4-options.ts over literal bytes: writeIpv4Header emits the headers
// Linux sent (checksum included), the accessors read them back, ipv4Check sorts each error class
// into its MIB counter in ip_rcv_core's order.
import { describe, expect, it } from 'vitest';
import { parseIPv4 } from '../../src/wire/addr.ts';
import { csumFinish, csumPartial } from '../../src/wire/checksum.ts';
import { ETH_HLEN } from '../../src/wire/ethernet.ts';
import {
  IP_DF,
  IP_MF,
  IP_OFFSET,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_BAD_CSUM,
  IPV4_BAD_HDR,
  IPV4_CHECK,
  IPV4_DADDR,
  IPV4_FRAG_OFF,
  IPV4_HLEN,
  IPV4_ID,
  IPV4_OK,
  IPV4_PROTOCOL,
  IPV4_SADDR,
  IPV4_TOS,
  IPV4_TOT_LEN,
  IPV4_TRUNCATED,
  IPV4_TTL,
  IPV4_VIHL,
  ipDaddr,
  ipDecreaseTtl,
  ipFragOff,
  ipHdrCsumOk,
  ipHdrCsumOk5,
  ipIhl,
  ipIsFragment,
  ipProto,
  ipSaddr,
  ipSendCheck,
  ipTotLen,
  ipTtl,
  ipv4Check,
  writeIpv4Header,
} from '../../src/wire/ipv4.ts';
import { IPOPT_NOOP, OPT_OK, OPT_SRR, ipOptionsCompile, ipOptionsFragment } from '../../src/wire/ipv4-options.ts';
import { A_IP, B_IP, CAPTURES as C, hex } from '../support/captures.ts';

const dvOf = (f: Uint8Array) => new DataView(f.buffer, f.byteOffset, f.byteLength);
const A = parseIPv4(A_IP);
const B = parseIPv4(B_IP);

// Each captured IPv4 header and the fields it was built from.
const HEADERS = [
  { name: 'udp', f: C.udp, tos: 0, id: 0x2e2e, frag: IP_DF, proto: IPPROTO_UDP, src: A, dst: B, check: 0xf899 },
  { name: 'echo request', f: C.echoRequest, tos: 0, id: 0x20f0, frag: IP_DF, proto: IPPROTO_ICMP, src: A, dst: B, check: 0x05b5 },
  { name: 'echo reply', f: C.echoReply, tos: 0, id: 0x882e, frag: 0, proto: IPPROTO_ICMP, src: B, dst: A, check: 0xde76 },
  { name: 'port unreachable', f: C.portUnreach, tos: 0xc0, id: 0x884d, frag: 0, proto: IPPROTO_ICMP, src: B, dst: A, check: 0xddae },
  { name: 'tcp syn', f: C.tcpSyn, tos: 0, id: 0xcbb2, frag: IP_DF, proto: IPPROTO_TCP, src: A, dst: B, check: 0x5b05 },
  { name: 'tcp rst', f: C.tcpRst, tos: 0, id: 0, frag: IP_DF, proto: IPPROTO_TCP, src: B, dst: A, check: 0x26cc },
];

describe('IPv4 header', () => {
  it('the layout of ip.h', () => {
    expect([IPV4_VIHL, IPV4_TOS, IPV4_TOT_LEN, IPV4_ID, IPV4_FRAG_OFF, IPV4_TTL, IPV4_PROTOCOL, IPV4_CHECK, IPV4_SADDR, IPV4_DADDR, IPV4_HLEN]).toEqual([
      0, 1, 2, 4, 6, 8, 9, 10, 12, 16, 20,
    ]);
  });

  for (const h of HEADERS) {
    it(`${h.name}: accessors read the captured header, writeIpv4Header emits it`, () => {
      const dv = dvOf(h.f);
      const p = ETH_HLEN;
      const tot = h.f.length - ETH_HLEN;
      expect(ipv4Check(dv, p, tot)).toBe(IPV4_OK);
      expect(ipIhl(h.f, p)).toBe(IPV4_HLEN);
      expect(ipTotLen(dv, p)).toBe(tot);
      expect(ipFragOff(dv, p)).toBe(h.frag);
      expect(ipIsFragment(dv, p)).toBe(false);
      expect(ipTtl(h.f, p)).toBe(64);
      expect(ipProto(h.f, p)).toBe(h.proto);
      expect(ipSaddr(dv, p)).toBe(h.src);
      expect(ipDaddr(dv, p)).toBe(h.dst);
      expect(dv.getUint16(p + IPV4_CHECK)).toBe(h.check);
      expect(ipHdrCsumOk5(dv, p)).toBe(true);

      const out = new Uint8Array(IPV4_HLEN);
      writeIpv4Header(dvOf(out), 0, h.tos, tot, h.id, h.frag, 64, h.proto, h.src, h.dst);
      expect(out).toEqual(h.f.subarray(p, p + IPV4_HLEN));
    });
  }

  it('ipSendCheck recomputes the checksum; ipDecreaseTtl patches it as a recompute would', () => {
    const f = C.udp.slice();
    const dv = dvOf(f);
    dv.setUint16(ETH_HLEN + IPV4_CHECK, 0x1234);
    ipSendCheck(dv, ETH_HLEN);
    expect(f).toEqual(C.udp);
    for (let ttl = 64; ttl > 0; ttl--) {
      expect(ipDecreaseTtl(dv, ETH_HLEN)).toBe(ttl - 1);
      const patched = dv.getUint16(ETH_HLEN + IPV4_CHECK);
      ipSendCheck(dv, ETH_HLEN);
      expect(patched).toBe(dv.getUint16(ETH_HLEN + IPV4_CHECK));
    }
  });

  it('fragments: MF or a non-zero offset (ip_is_fragment)', () => {
    const f = C.udp.slice(ETH_HLEN);
    const dv = dvOf(f);
    dv.setUint16(IPV4_FRAG_OFF, IP_MF);
    expect(ipIsFragment(dv, 0)).toBe(true);
    dv.setUint16(IPV4_FRAG_OFF, IP_DF | 185);
    expect(ipIsFragment(dv, 0)).toBe(true);
    expect(ipFragOff(dv, 0) & IP_OFFSET).toBe(185);
    dv.setUint16(IPV4_FRAG_OFF, IP_DF);
    expect(ipIsFragment(dv, 0)).toBe(false);
  });
});

describe('ipv4Check: one result per MIB counter, in ip_rcv_core order', () => {
  const good = () => C.udp.slice(ETH_HLEN); // 33 bytes: header + 13
  const fix = (f: Uint8Array) => (ipSendCheck(dvOf(f), 0), f);

  it('OK', () => expect(ipv4Check(dvOf(good()), 0, 33)).toBe(IPV4_OK));
  it('shorter than a header: InHdrErrors', () => expect(ipv4Check(dvOf(good()), 0, 19)).toBe(IPV4_BAD_HDR));
  it('version 6: InHdrErrors', () => {
    const f = good();
    f[IPV4_VIHL] = 0x65;
    expect(ipv4Check(dvOf(fix(f)), 0, 33)).toBe(IPV4_BAD_HDR);
  });
  it('ihl < 5: InHdrErrors', () => {
    const f = good();
    f[IPV4_VIHL] = 0x44;
    expect(ipv4Check(dvOf(f), 0, 33)).toBe(IPV4_BAD_HDR);
  });
  it('ihl past the bytes received: InHdrErrors', () => {
    const f = good();
    f[IPV4_VIHL] = 0x49; // 36-byte header in 33 bytes
    expect(ipv4Check(dvOf(f), 0, 33)).toBe(IPV4_BAD_HDR);
  });
  it('bad checksum: InCsumErrors (before any tot_len check)', () => {
    const f = good();
    f[IPV4_TTL] = 63;
    expect(ipv4Check(dvOf(f), 0, 33)).toBe(IPV4_BAD_CSUM);
    dvOf(f).setUint16(IPV4_TOT_LEN, 1000);
    expect(ipv4Check(dvOf(f), 0, 33)).toBe(IPV4_BAD_CSUM);
  });
  it('tot_len past the bytes received: InTruncatedPkts', () => {
    expect(ipv4Check(dvOf(good()), 0, 32)).toBe(IPV4_TRUNCATED);
  });
  it('tot_len shorter than the header: InHdrErrors', () => {
    const f = good();
    dvOf(f).setUint16(IPV4_TOT_LEN, 19);
    expect(ipv4Check(dvOf(fix(f)), 0, 33)).toBe(IPV4_BAD_HDR);
  });
  it('with options: the checksum covers them', () => {
    // RFC 791 record route with room for two addresses, then END padding: ihl 7.
    const f = hex('4700 0024 0001 0000 4011 0000 0a01 0002 0a01 0001 0707 0400 0000 0000 0000 0000 0fa0 0009');
    const dv = dvOf(f);
    ipSendCheck(dv, 0);
    expect(csumFinish(csumPartial(dv, 0, 28, 0))).toBe(0);
    expect(ipHdrCsumOk(dv, 0, 7)).toBe(true);
    expect(ipv4Check(dv, 0, f.length)).toBe(IPV4_OK);
    f[IPV4_HLEN + 2] = 8; // the record route pointer, under the checksum
    expect(ipv4Check(dv, 0, f.length)).toBe(IPV4_BAD_CSUM);
  });
});

describe('IPv4 options (ip_options_compile)', () => {
  const hdr = (opts: string) => hex('4600 0018 0000 0000 4011 0000 0000 0000 0000 0000 ' + opts);

  it('accepts NOOPs, END and a record route; a source route is OPT_SRR', () => {
    expect(ipOptionsCompile(hdr('0101 0100'), 0, 24)).toBe(OPT_OK);
    expect(ipOptionsCompile(hex('4700 0000 0000 0000 0000 0000 0000 0000 0000 0000 0707 0400 0000 0000'), 0, 28)).toBe(OPT_OK);
    expect(ipOptionsCompile(hex('4700 0000 0000 0000 0000 0000 0000 0000 0000 0000 8307 0400 0000 0000'), 0, 28)).toBe(OPT_SRR);
  });

  it('points at the faulty octet (the ICMP parameter problem pointer)', () => {
    expect(ipOptionsCompile(hdr('0701 0000'), 0, 24)).toBe(20); // length < 2: the option itself
    expect(ipOptionsCompile(hdr('0709 0400'), 0, 24)).toBe(20); // length past the header
    expect(ipOptionsCompile(hdr('0703 0300'), 0, 24)).toBe(22); // pointer < 4
  });

  it('ip_options_fragment keeps copied options and NOOPs the others', () => {
    const f = hex('4800 0000 0000 0000 0000 0000 0000 0000 0000 0000 0707 0400 0000 0083 0704 0000 0000 0000');
    ipOptionsFragment(f, 0, 32);
    expect([...f.subarray(20, 27)]).toEqual(new Array(7).fill(IPOPT_NOOP));
    expect([...f.subarray(27, 30)]).toEqual([0x83, 7, 4]);
  });
});
