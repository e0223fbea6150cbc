import { describe, expect, it } from 'vitest';
import { Netfilter } from '../../src/ipv4/netfilter/netfilter.ts';
import { csumFinish, csumPartial, pseudoHdrSum } from '../../src/wire/checksum.ts';
import { csumOk, icmpMsg, ip, ipFrame, lab, parseIp } from '../support/ipv4-graph.ts';
import { pattern } from '../support/rng.ts';

/** ipFrame's L4 part: a UDP datagram (12 bytes of data unless told) or a TCP segment. */
const udp = (sport: number, dport: number, payload: Uint8Array = pattern(12)) => ({ udp: { sport, dport }, payload });
const tcp = (sport: number, dport: number, seq: number, ack: number, flags: number, payload: Uint8Array = new Uint8Array(0)) => ({ tcp: { sport, dport, seq, ack, flags, window: 1000 }, payload });

function withNf(rules: string[]) {
  const L = lab();
  const nf = new Netfilter(
    (name) => L.devs.get(name).index,
    (i) => L.devs.list[i]?.name ?? '?',
  );
  for (const r of rules) nf.exec(r);
  L.ipv4.setNetfilter(nf);
  return { L, nf };
}

describe('netfilter hooks in the IPv4 stages', () => {
  it('FORWARD DROP on one UDP port blocks only that port', () => {
    const { L } = withNf(['-A FORWARD -p udp --dport 9 -j DROP']);
    L.rx(ipFrame({ dst: '10.2.0.7', ...udp(1000, 9) }));
    L.rx(ipFrame({ dst: '10.2.0.7', ...udp(1000, 10) }));
    const out = L.take();
    expect(out).toHaveLength(1);
    expect(new DataView(out[0].bytes.buffer).getUint16(22)).toBe(10);
    expect(L.drops('netfilter.drop')).toBe(1);
    expect(L.leaked()).toBe(0);
  });

  it('REJECT answers port unreachable to the sender, quoting the packet', () => {
    const { L } = withNf(['-A FORWARD -p udp --dport 53 -j REJECT']);
    L.rx(ipFrame({ src: '10.1.0.2', dst: '10.2.0.7', ...udp(4000, 53) }));
    const [out] = L.take();
    const p = parseIp(out.bytes);
    expect(p.dst).toBe(ip('10.1.0.2'));
    expect([p.payload[0], p.payload[1]]).toEqual([3, 3]);
    expect(csumOk(p.payload)).toBe(true);
    expect(out.oif).toBe(0);
  });

  it('REJECT --reject-with tcp-reset answers a SYN with RST|ACK, ack = seq + 1, valid checksums', () => {
    const { L } = withNf(['-A INPUT -p tcp --dport 22 -j REJECT --reject-with tcp-reset']);
    L.rx(ipFrame({ src: '10.1.0.2', dst: '10.1.0.1', ...tcp(5555, 22, 1000, 0, 0x02) }));
    const [out] = L.take();
    const p = parseIp(out.bytes);
    expect(p.hdrOk).toBe(true);
    expect(p.proto).toBe(6);
    expect(p.src).toBe(ip('10.1.0.1'));
    expect(p.dst).toBe(ip('10.1.0.2'));
    const t = new DataView(p.payload.buffer, p.payload.byteOffset, p.payload.byteLength);
    expect(t.getUint16(0)).toBe(22);
    expect(t.getUint16(2)).toBe(5555);
    expect(t.getUint32(4)).toBe(0);
    expect(t.getUint32(8)).toBe(1001);
    expect(p.payload[13]).toBe(0x14);
    const sum = csumPartial(t, 0, p.payload.length, pseudoHdrSum(p.src, p.dst, 6, p.payload.length));
    expect(csumFinish(sum)).toBe(0);
  });

  it('a RST answering an ACK segment takes seq from its ack', () => {
    const { L } = withNf(['-A INPUT -p tcp -j REJECT --reject-with tcp-reset']);
    L.rx(ipFrame({ src: '10.1.0.2', dst: '10.1.0.1', ...tcp(5555, 80, 1000, 0xdeadbeef, 0x10, pattern(10)) }));
    const [out] = L.take();
    const t = new DataView(out.bytes.buffer, out.bytes.byteOffset + 20);
    expect(t.getUint32(4)).toBe(0xdeadbeef);
    expect(out.bytes[20 + 13]).toBe(0x04);
  });

  it('-P FORWARD DROP with one ACCEPT lets only what it names through; rule counters count', () => {
    const { L, nf } = withNf(['-P FORWARD DROP', '-A FORWARD -p icmp -j ACCEPT']);
    L.rx(ipFrame({ dst: '10.2.0.7', proto: 1, payload: icmpMsg(8, 0, 1, pattern(8)) }));
    L.rx(ipFrame({ dst: '10.2.0.7', ...udp(1, 2) }));
    expect(L.take()).toHaveLength(1);
    expect(nf.exec('-L FORWARD -v -n')).toMatch(/1\s+\d+\s+ACCEPT/);
  });

  it('INPUT and PREROUTING drops; MARK is copied back to the packet', () => {
    const { L } = withNf(['-A INPUT -p icmp --icmp-type echo-request -j DROP', '-t mangle -A PREROUTING -j MARK --set-mark 7']);
    L.rx(ipFrame({ dst: '10.1.0.1', proto: 1, payload: icmpMsg(8, 0, 1, pattern(8)) }));
    expect(L.take()).toHaveLength(0);
    expect(L.drops('netfilter.drop')).toBe(1);
    L.rx(ipFrame({ dst: '10.2.0.7', ...udp(1, 2) }));
    expect(L.take()).toHaveLength(1);
    expect(L.leaked()).toBe(0);
  });

  it('OUTPUT rules see replies; refreshHooks() skips empty hooks and must follow rule changes', () => {
    const { L, nf } = withNf(['-A OUTPUT -p icmp --icmp-type echo-reply -j DROP']);
    L.rx(ipFrame({ dst: '10.1.0.1', proto: 1, payload: icmpMsg(8, 0, 1, pattern(8)) }));
    expect(L.take()).toHaveLength(0);
    nf.exec('-F OUTPUT');
    L.ipv4.refreshHooks();
    expect(Array.from(L.ipv4.nf.on)).toEqual([0, 0, 0, 0, 0]);
    L.rx(ipFrame({ dst: '10.1.0.1', proto: 1, payload: icmpMsg(8, 0, 1, pattern(8)) }));
    expect(L.take()).toHaveLength(1);
  });

  it('REJECT on a flood of garbage TCP/UDP/ICMP (valid IP headers) never throws or leaks', () => {
    const { L } = withNf(['-A INPUT -p tcp -j REJECT --reject-with tcp-reset', '-A INPUT -p udp -j REJECT', '-A FORWARD -j REJECT --reject-with icmp-admin-prohibited']);
    let x = 7;
    const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8;
    for (let round = 0; round < 100; round++) {
      const frames: Uint8Array[] = [];
      for (let k = 0; k < 64; k++) {
        const payload = pattern(rnd() % 60, k);
        frames.push(ipFrame({ src: '10.1.0.2', dst: (rnd() & 1) ? '10.1.0.1' : '10.2.0.9', proto: [1, 6, 17][rnd() % 3], mf: (rnd() & 7) === 0, fragOff: (rnd() & 7) === 0 ? 64 : 0, payload }));
      }
      L.rxMany(frames);
      for (const s of L.take()) expect(parseIp(s.bytes).hdrOk).toBe(true);
      expect(L.leaked()).toBe(0);
    }
    L.ipv4.close();
    expect(L.leaked()).toBe(0);
  });
});
