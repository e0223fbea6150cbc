import { describe, expect, it } from 'vitest';
import { ICMP_HLEN, ICMP_TS_ORIGINATE } from '../../src/wire/icmp.ts';
import { csumOk, icmpMsg, ip, ipFrame, lab, parseIp } from '../support/ipv4-graph.ts';
import { pattern } from '../support/rng.ts';

describe('icmp-rcv: echo', () => {
  for (const size of [0, 56, 1000, 1472]) {
    it(`echo request with ${size} bytes of payload -> a correct echo reply, in place`, () => {
      const L = lab();
      const data = pattern(size, size + 1);
      L.rx(ipFrame({ src: '10.1.0.2', dst: '10.1.0.1', proto: 1, ttl: 61, id: 777, df: true, payload: icmpMsg(8, 0, 0xbeef0003, data) }));
      const out = L.take();
      expect(out).toHaveLength(1);
      const p = parseIp(out[0].bytes);
      expect(p.version).toBe(4);
      expect(p.ihl).toBe(20);
      expect(p.totLen).toBe(20 + 8 + size);
      expect(out[0].bytes.length).toBe(p.totLen);
      expect(p.hdrOk).toBe(true);
      expect(p.src).toBe(ip('10.1.0.1'));
      expect(p.dst).toBe(ip('10.1.0.2'));
      expect(p.ttl).toBe(64);
      expect(p.proto).toBe(1);
      expect(p.payload[0]).toBe(0); // echo reply
      expect(p.payload[1]).toBe(0);
      expect(csumOk(p.payload)).toBe(true);
      expect(new DataView(p.payload.buffer, p.payload.byteOffset).getUint32(4)).toBe(0xbeef0003);
      expect(Array.from(p.payload.subarray(8))).toEqual(Array.from(data));
      // Routed back out of p0 to the on-link source.
      expect(out[0].oif).toBe(0);
      expect(out[0].nh).toBe(ip('10.1.0.2'));
      expect(L.icmpMib('InEchos')).toBe(1);
      expect(L.icmpMib('OutEchoReps')).toBe(1);
      expect(L.ipMib('InDelivers')).toBe(1);
      expect(L.leaked()).toBe(0);
    });
  }

  it('an echo request carrying IP options gets a reply without them', () => {
    const L = lab();
    const data = pattern(100);
    L.rx(ipFrame({ src: '10.1.0.2', dst: '10.1.0.1', proto: 1, options: [1, 1, 1, 0], payload: icmpMsg(8, 0, 5, data) }));
    const [out] = L.take();
    const p = parseIp(out.bytes);
    expect(p.ihl).toBe(20);
    expect(p.hdrOk).toBe(true);
    expect(csumOk(p.payload)).toBe(true);
    expect(Array.from(p.payload.subarray(8))).toEqual(Array.from(data));
  });

  it('timestamp request -> timestamp reply (20 bytes, originate kept, checksums valid)', () => {
    const L = lab();
    const data = new Uint8Array(12);
    new DataView(data.buffer).setUint32(ICMP_TS_ORIGINATE - ICMP_HLEN, 12345678);
    L.rx(ipFrame({ src: '10.1.0.2', dst: '10.1.0.1', proto: 1, payload: icmpMsg(13, 0, 0x00070001, data) }));
    const [out] = L.take();
    const p = parseIp(out.bytes);
    expect(p.hdrOk).toBe(true);
    expect(p.payload.length).toBe(20);
    expect(p.payload[0]).toBe(14);
    expect(csumOk(p.payload)).toBe(true);
    const dv = new DataView(p.payload.buffer, p.payload.byteOffset);
    expect(dv.getUint32(4)).toBe(0x00070001);
    expect(dv.getUint32(8)).toBe(12345678);
    expect(dv.getUint32(12)).toBeLessThan(86_400_000);
    expect(L.icmpMib('InTimestamps')).toBe(1);
    expect(L.icmpMib('OutTimestampReps')).toBe(1);
    expect(L.icmpMib('OutEchoReps')).toBe(0);
  });

  it('a bad ICMP checksum is InCsumErrors + InErrors and not answered', () => {
    const L = lab();
    const m = icmpMsg(8, 0, 1, pattern(56));
    m[ICMP_HLEN + 2] ^= 1; // a data bit: the checksum no longer matches
    L.rx(ipFrame({ dst: '10.1.0.1', proto: 1, payload: m }));
    expect(L.take()).toHaveLength(0);
    expect(L.icmpMib('InCsumErrors')).toBe(1);
    expect(L.icmpMib('InErrors')).toBe(1);
    expect(L.drops('icmp.InCsumErrors')).toBe(1);
  });

  it('a truncated ICMP header (< 8 bytes) is InErrors', () => {
    const L = lab();
    L.rx(ipFrame({ dst: '10.1.0.1', proto: 1, payload: icmpMsg(8, 0, 0, new Uint8Array(0)).subarray(0, 4) })); // type, code, checksum
    expect(L.icmpMib('InErrors')).toBe(1);
    expect(L.leaked()).toBe(0);
  });

  it('icmp_echo_ignore_all and broadcast pings (icmp_echo_ignore_broadcasts) are not answered', () => {
    const L = lab({ sysctl: { icmp_echo_ignore_all: 1 } });
    L.rx(ipFrame({ dst: '10.1.0.1', proto: 1, payload: icmpMsg(8, 0, 1, pattern(8)) }));
    expect(L.take()).toHaveLength(0);
    L.ipv4.setSysctl('icmp_echo_ignore_all', 0);
    L.rx(ipFrame({ dst: '10.1.0.255', proto: 1, payload: icmpMsg(8, 0, 1, pattern(8)) }));
    L.rx(ipFrame({ dst: '255.255.255.255', proto: 1, payload: icmpMsg(8, 0, 1, pattern(8)) }));
    expect(L.take()).toHaveLength(0);
    L.ipv4.setSysctl('net.ipv4.icmp_echo_ignore_broadcasts', 0);
    L.rx(ipFrame({ dst: '10.1.0.255', proto: 1, payload: icmpMsg(8, 0, 1, pattern(8)) }));
    const [out] = L.take();
    expect(parseIp(out.bytes).src).toBe(ip('10.1.0.1'));
    expect(L.leaked()).toBe(0);
  });

  it('echo replies and errors received are counted and consumed', () => {
    const L = lab();
    L.rx(ipFrame({ dst: '10.1.0.1', proto: 1, payload: icmpMsg(0, 0, 1, pattern(8)) }));
    L.rx(ipFrame({ dst: '10.1.0.1', proto: 1, payload: icmpMsg(3, 3, 0, pattern(28)) }));
    expect(L.icmpMib('InEchoReps')).toBe(1);
    expect(L.icmpMib('InDestUnreachs')).toBe(1);
    expect(L.icmpMib('InMsgs')).toBe(2);
    expect(L.take()).toHaveLength(0);
    expect(L.leaked()).toBe(0);
  });

  it('an unknown protocol for us is answered with protocol unreachable, InUnknownProtos', () => {
    const L = lab();
    L.rx(ipFrame({ src: '10.1.0.2', dst: '10.1.0.1', proto: 99, payload: pattern(40) }));
    expect(L.ipMib('InUnknownProtos')).toBe(1);
    const [out] = L.take();
    const p = parseIp(out.bytes);
    expect(p.src).toBe(ip('10.1.0.1'));
    expect(p.dst).toBe(ip('10.1.0.2'));
    expect(p.payload[0]).toBe(3);
    expect(p.payload[1]).toBe(2);
    expect(csumOk(p.payload)).toBe(true);
    // Quoted: the original header (proto 99) and its data.
    const q = parseIp(p.payload.subarray(8));
    expect(q.proto).toBe(99);
    expect(q.totLen).toBe(60);
  });

  it('inet_add_protocol routes a protocol to a stage; UDP is auto-wired when udp-rcv exists', () => {
    const L = lab();
    L.ipv4.inet_add_protocol(99, 'icmp-rcv');
    expect(L.ipv4.localDeliver.protocols()).toContainEqual({ proto: 99, stage: 'icmp-rcv' });
    expect(() => L.ipv4.inet_add_protocol(99, 'ip-output')).toThrow(/handled by icmp-rcv/);
    expect(() => L.ipv4.inet_add_protocol(300, 'x')).toThrow(/0\.\.255/);
  });
});

describe('addresses', () => {
  it('addAddress adds local /32, connected subnet and directed broadcast routes; sourceFor picks the egress address', () => {
    const L = lab();
    const types = (a: string) => L.ipv4.fib.route(ip(a));
    expect(types('10.1.0.1')?.type).toBe(2);
    expect(types('10.1.0.255')?.type).toBe(3);
    expect(types('10.1.0.77')).toMatchObject({ type: 1, gateway: 0, oif: 0 });
    expect(L.ipv4.sourceFor(ip('10.2.0.9'))).toBe(ip('10.2.0.1'));
    expect(L.ipv4.sourceFor(ip('10.3.1.1'))).toBe(ip('10.2.0.1'));
    expect(L.ipv4.sourceFor(ip('8.8.8.8'))).toBe(0);
    // A second address in the same subnet shares the connected route.
    L.ipv4.addAddress(0, ip('10.1.0.9'), 24);
    expect(types('10.1.0.9')?.type).toBe(2);
    expect(L.devs.list[0].addrs).toHaveLength(2);
  });

  it('setSysctl refuses unknown names and bad values with a message naming them', () => {
    const L = lab();
    expect(() => L.ipv4.setSysctl('ip_forwarding', 1)).toThrow(/unknown IPv4 setting "ip_forwarding"/);
    expect(() => L.ipv4.setSysctl('ip_default_ttl', 300)).toThrow(/1\.\.255/);
    expect(() => L.ipv4.setSysctl('icmp_ratelimit', 'x')).toThrow(/non-negative integer/);
    L.ipv4.setSysctl('net.ipv4.ip_default_ttl', '32');
    expect(L.ipv4.sysctl.ip_default_ttl).toBe(32);
  });
});
