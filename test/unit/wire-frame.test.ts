// Whole frames from src/wire/frame.ts: the captured frames rebuilt byte for byte, the generator's
// UDP frame, and the spec's knobs (VLAN and QinQ tags, IP options, TCP options, crafted bad headers).
import { describe, expect, it } from 'vitest';
import { parseIPv4, parseMac } from '../../src/wire/addr.ts';
import { ARPOP_REPLY, ARPOP_REQUEST } from '../../src/wire/arp.ts';
import { csumFinish, csumPartial } from '../../src/wire/checksum.ts';
import { ETH_HLEN, ETH_P_8021AD, ETH_P_8021Q, ETH_P_IP, VLAN_HLEN, ethType, vlanEncapType, vlanId } from '../../src/wire/ethernet.ts';
import { buildFrame, buildUdpFrame } from '../../src/wire/frame.ts';
import { ICMP_DEST_UNREACH, ICMP_ECHO, ICMP_ECHOREPLY, ICMP_PORT_UNREACH } from '../../src/wire/icmp.ts';
import { IPV4_BAD_CSUM, IPV4_OK, IPV4_TRUNCATED, IPPROTO_UDP, ipIhl, ipProto, ipSaddr, ipDaddr, ipTotLen, ipTtl, ipv4Check } from '../../src/wire/ipv4.ts';
import { TCP_ACK, TCP_HLEN, TCP_RST, TCP_SYN, TcpOptions, tcpCsumOk, tcpFlags, tcpHdrLen, tcpParseOptions } from '../../src/wire/tcp.ts';
import { udpDport, udpLen, udpSport } from '../../src/wire/udp.ts';
import { A_IP, A_MAC, B_IP, B_MAC, CAPTURES as C } from '../support/captures.ts';

describe('buildFrame rebuilds captured frames', () => {
  it('ARP request and reply', () => {
    expect(buildFrame({ srcMac: A_MAC, dstMac: 'ff:ff:ff:ff:ff:ff', arp: { op: ARPOP_REQUEST, spa: A_IP, tpa: B_IP } })).toEqual(C.arpRequest);
    expect(buildFrame({ srcMac: B_MAC, dstMac: A_MAC, arp: { op: ARPOP_REPLY, spa: B_IP, tha: A_MAC, tpa: A_IP } })).toEqual(C.arpReply);
  });

  it('ICMP echo request and reply', () => {
    const data = C.echoRequest.subarray(42);
    const req = buildFrame({ srcMac: A_MAC, dstMac: B_MAC, ip: { src: A_IP, dst: B_IP, id: 0x20f0, df: true }, icmp: { type: ICMP_ECHO, rest: 0x22960001 }, payload: data });
    expect(req).toEqual(C.echoRequest);
    const rep = buildFrame({ srcMac: B_MAC, dstMac: A_MAC, ip: { src: B_IP, dst: A_IP, id: 0x882e }, icmp: { type: ICMP_ECHOREPLY, rest: 0x22960001 }, payload: data });
    expect(rep).toEqual(C.echoReply);
  });

  it('UDP with its checksum, and the port unreachable that answers it', () => {
    const udp = buildFrame({ srcMac: A_MAC, dstMac: B_MAC, ip: { src: A_IP, dst: B_IP, id: 0x2e2e, df: true }, udp: { sport: 4000, dport: 9, csum: true }, payload: new TextEncoder().encode('hello') });
    expect(udp).toEqual(C.udp);
    const err = buildFrame({
      srcMac: B_MAC,
      dstMac: A_MAC,
      ip: { src: B_IP, dst: A_IP, id: 0x884d, tos: 0xc0 },
      icmp: { type: ICMP_DEST_UNREACH, code: ICMP_PORT_UNREACH },
      payload: C.udp.subarray(ETH_HLEN),
    });
    expect(err).toEqual(C.portUnreach);
  });

  it('TCP RST/ACK (no options)', () => {
    const f = buildFrame({ srcMac: B_MAC, dstMac: A_MAC, ip: { src: B_IP, dst: A_IP, id: 0, df: true }, tcp: { sport: 80, dport: 35810, seq: 0, ack: 0x83fc6abe, flags: TCP_RST | TCP_ACK, window: 0 } });
    expect(f).toEqual(C.tcpRst);
  });
});

describe('buildUdpFrame', () => {
  it('writes Ethernet/IPv4/UDP with a valid header checksum', () => {
    const f = buildUdpFrame({ srcMac: '02:00:00:00:00:01', dstMac: Uint8Array.from([2, 0, 0, 0, 0, 2]), srcIp: '10.0.0.1', dstIp: 0x0a000002, sport: 1234, dport: 80, size: 60 });
    const dv = new DataView(f.buffer);
    const ip = ETH_HLEN;
    const udp = ip + 20;
    expect(f.length).toBe(60);
    expect([...f.subarray(6, 12)]).toEqual([2, 0, 0, 0, 0, 1]);
    expect(ethType(dv, 0)).toBe(ETH_P_IP);
    expect(ipIhl(f, ip)).toBe(20);
    expect(ipTotLen(dv, ip)).toBe(46);
    expect(ipProto(f, ip)).toBe(IPPROTO_UDP);
    expect(ipTtl(f, ip)).toBe(64);
    expect(ipSaddr(dv, ip)).toBe(0x0a000001);
    expect(ipDaddr(dv, ip)).toBe(0x0a000002);
    expect(csumFinish(csumPartial(dv, ip, 20, 0))).toBe(0); // a correct checksum sums to 0
    expect(udpSport(dv, udp)).toBe(1234);
    expect(udpDport(dv, udp)).toBe(80);
    expect(udpLen(dv, udp)).toBe(26);
    // The same frame as literal bytes (DF, id 0, UDP checksum 0 = none, zero padding).
    expect([...f.subarray(12, 42)]).toEqual([8, 0, 0x45, 0, 0, 46, 0, 0, 0x40, 0, 64, 17, 0x26, 0xbd, 10, 0, 0, 1, 10, 0, 0, 2, 0x04, 0xd2, 0, 80, 0, 26, 0, 0]);
  });

  it('matches a known header checksum', () => {
    // RFC 1071-style example: 45 00 00 73 00 00 40 00 40 11 [b8 61] c0 a8 00 01 c0 a8 00 c7
    const h = Uint8Array.from([0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0, 0xc7]);
    expect(csumFinish(csumPartial(new DataView(h.buffer), 0, 20, 0))).toBe(0xb861);
  });

  it('rejects bad input with a message', () => {
    expect(() => parseMac('02:00:00')).toThrow(/"02:00:00" is not a MAC address/);
    expect(() => parseIPv4('10.0.0.256')).toThrow(/invalid IPv4 address "10.0.0.256"/);
    expect(() => buildUdpFrame({ srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', srcIp: 1, dstIp: 2, sport: 1, dport: 2, size: 20 })).toThrow(/out of range/);
    expect(() => buildFrame({ srcMac: [1, 2, 3] })).toThrow(/a MAC address is 6 bytes, got 3/);
  });
});

describe('buildFrame knobs', () => {
  it('an 802.1Q tag sits between the MACs and the EtherType', () => {
    const f = buildFrame({ vlan: 5, udp: {} });
    const dv = new DataView(f.buffer);
    expect(ethType(dv, 0)).toBe(ETH_P_8021Q);
    expect(vlanId(dv, 0)).toBe(5);
    expect(vlanEncapType(dv, 0)).toBe(ETH_P_IP);
    expect(ipv4Check(dv, ETH_HLEN + VLAN_HLEN, f.length - ETH_HLEN - VLAN_HLEN)).toBe(IPV4_OK);
  });

  it('IP options are padded to 4 bytes and covered by the checksum', () => {
    const f = buildFrame({ ip: { options: [1, 1, 1] }, udp: {} });
    const dv = new DataView(f.buffer);
    expect(ipIhl(f, ETH_HLEN)).toBe(24);
    expect([...f.subarray(34, 38)]).toEqual([1, 1, 1, 0]);
    expect(ipTotLen(dv, ETH_HLEN)).toBe(24 + 8);
    expect(ipv4Check(dv, ETH_HLEN, f.length - ETH_HLEN)).toBe(IPV4_OK);
  });

  it('QinQ: an 802.1ad tag outside the 802.1Q one', () => {
    const f = buildFrame({ qinq: 100, vlan: 7, udp: {} });
    const dv = new DataView(f.buffer);
    expect(ethType(dv, 0)).toBe(ETH_P_8021AD);
    expect(vlanId(dv, 0)).toBe(100);
    expect(vlanEncapType(dv, 0)).toBe(ETH_P_8021Q);
    expect(vlanId(dv, VLAN_HLEN)).toBe(7);
    expect(vlanEncapType(dv, VLAN_HLEN)).toBe(ETH_P_IP);
    expect(ipv4Check(dv, ETH_HLEN + 2 * VLAN_HLEN, f.length - ETH_HLEN - 2 * VLAN_HLEN)).toBe(IPV4_OK);
    expect(() => buildFrame({ qinq: 100, udp: {} })).toThrow(/give vlan too/);
  });

  it('TCP options: a SYN in Linux layout, TS and SACK on data, raw bytes; all under the checksum', () => {
    const l4 = ETH_HLEN + 20;
    const parsed = (f: Uint8Array) => {
      const dv = new DataView(f.buffer);
      expect(tcpCsumOk(dv, l4, f.length - l4, ipSaddr(dv, ETH_HLEN), ipDaddr(dv, ETH_HLEN))).toBe(true);
      const o = new TcpOptions();
      tcpParseOptions(f, dv, l4, tcpHdrLen(f, l4), o);
      return o;
    };
    const syn = buildFrame({ tcp: { flags: TCP_SYN, mss: 1460, wscale: 7, sackOk: true, ts: [5000, 0] }, payload: 3 });
    expect(tcpHdrLen(syn, l4)).toBe(TCP_HLEN + 20);
    expect([...syn.subarray(l4 + TCP_HLEN, l4 + TCP_HLEN + 20)]).toEqual([2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0x13, 0x88, 0, 0, 0, 0, 1, 3, 3, 7]);
    expect(ipTotLen(new DataView(syn.buffer), ETH_HLEN)).toBe(20 + 40 + 3);
    const o = parsed(syn);
    expect([o.mss, o.wscale, o.sackOk, o.hasTs, o.tsVal]).toEqual([1460, 7, true, true, 5000]);
    const data = parsed(buildFrame({ tcp: { flags: TCP_ACK, ts: [9, 8], sack: [[100, 200], [300, 400]] }, payload: 10 }));
    expect([data.hasTs, data.tsVal, data.tsEcr, data.sackN, ...data.sack.subarray(0, 4)]).toEqual([true, 9, 8, 2, 100, 200, 300, 400]);
    const raw = buildFrame({ tcp: { options: [2, 4, 2, 0, 1] } });
    expect(tcpHdrLen(raw, l4)).toBe(TCP_HLEN + 8);
    expect([...raw.subarray(l4 + TCP_HLEN)]).toEqual([2, 4, 2, 0, 1, 0, 0, 0]);
    expect(parsed(raw).mss).toBe(512);
    expect(() => buildFrame({ tcp: { wscale: 7 } })).toThrow(/give mss too/);
  });

  it('TCP data offset override: the header lies, the checksum still holds', () => {
    const f = buildFrame({ tcp: { flags: TCP_ACK, doff: 15 }, payload: 4 });
    const dv = new DataView(f.buffer);
    const l4 = ETH_HLEN + 20;
    expect(tcpHdrLen(f, l4)).toBe(60);
    expect(tcpFlags(f, l4)).toBe(TCP_ACK);
    expect(f.length).toBe(l4 + TCP_HLEN + 4);
    expect(tcpCsumOk(dv, l4, f.length - l4, ipSaddr(dv, ETH_HLEN), ipDaddr(dv, ETH_HLEN))).toBe(true);
  });

  it('crafted headers: tot_len past the end, no checksum; size and pad', () => {
    const long = buildFrame({ ip: { totLen: 200 }, udp: {} });
    expect(ipv4Check(new DataView(long.buffer), ETH_HLEN, long.length - ETH_HLEN)).toBe(IPV4_TRUNCATED);
    const nock = buildFrame({ ip: { csum: false }, udp: {} });
    expect(ipv4Check(new DataView(nock.buffer), ETH_HLEN, nock.length - ETH_HLEN)).toBe(IPV4_BAD_CSUM);
    const sized = buildFrame({ udp: {}, size: 100, pad: 4 });
    expect(sized.length).toBe(104);
    expect(ipTotLen(new DataView(sized.buffer), ETH_HLEN)).toBe(100 - ETH_HLEN);
  });
});
