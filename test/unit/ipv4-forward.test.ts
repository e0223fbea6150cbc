import { describe, expect, it } from 'vitest';
import { csumOk, icmpMsg, ip, ipFrame, lab, parseIp } from '../support/ipv4-graph.ts';
import { pattern } from '../support/rng.ts';

/** The ICMP error in a sent datagram: type, code, the 32-bit rest, and the quoted datagram. */
function icmpErr(bytes: Uint8Array) {
  const p = parseIp(bytes);
  expect(p.hdrOk).toBe(true);
  expect(p.proto).toBe(1);
  expect(csumOk(p.payload)).toBe(true);
  const dv = new DataView(p.payload.buffer, p.payload.byteOffset);
  return { ip: p, type: p.payload[0], code: p.payload[1], rest: dv.getUint32(4), quote: p.payload.subarray(8) };
}

describe('ip-forward', () => {
  it('forwards with TTL - 1, a header checksum equal to a full recompute, b.oif/b.nh from the FIB', () => {
    const L = lab();
    const payload = pattern(200);
    L.rx(ipFrame({ src: '10.1.0.2', dst: '10.2.0.7', ttl: 64, payload }));
    L.rx(ipFrame({ src: '10.1.0.2', dst: '10.3.4.5', ttl: 2, payload }));
    const [a, b] = L.take();
    const pa = parseIp(a.bytes);
    expect(pa.ttl).toBe(63);
    expect(pa.hdrOk).toBe(true);
    expect(a.oif).toBe(1);
    expect(a.nh).toBe(ip('10.2.0.7'));
    expect(Array.from(pa.payload)).toEqual(Array.from(payload));
    expect(parseIp(b.bytes).ttl).toBe(1);
    expect(b.nh).toBe(ip('10.2.0.2')); // via the gateway
    expect(L.ipMib('ForwDatagrams')).toBe(2);
    expect(L.leaked()).toBe(0);
  });

  it('TTL 1 -> time exceeded from the inbound address, quoting the header and data, InHdrErrors', () => {
    const L = lab();
    const orig = ipFrame({ src: '10.1.0.2', dst: '10.2.0.7', ttl: 1, proto: 17, payload: pattern(16) });
    L.rx(orig);
    const [out] = L.take();
    const e = icmpErr(out.bytes);
    expect([e.type, e.code]).toEqual([11, 0]);
    expect(e.ip.src).toBe(ip('10.1.0.1'));
    expect(e.ip.dst).toBe(ip('10.1.0.2'));
    expect(e.ip.tos & 0xe0).toBe(0xc0);
    expect(Array.from(e.quote)).toEqual(Array.from(orig.subarray(14)));
    expect(out.oif).toBe(0);
    expect(L.ipMib('InHdrErrors')).toBe(1);
    expect(L.icmpMib('OutTimeExcds')).toBe(1);
  });

  it('quotes at most 576 bytes in all (Linux), not the whole datagram', () => {
    const L = lab();
    L.rx(ipFrame({ src: '10.1.0.2', dst: '10.2.0.7', ttl: 1, payload: pattern(1400) }));
    const [out] = L.take();
    expect(out.bytes.length).toBe(576);
    expect(icmpErr(out.bytes).quote.length).toBe(548);
  });

  it('no route -> net unreachable + InNoRoutes; unreachable -> host unreachable; prohibit -> code 13; blackhole silent', () => {
    const L = lab();
    L.ipv4.fib.add({ prefix: ip('192.0.2.0'), len: 24, type: 6, gateway: 0, oif: -1, metric: 0, proto: 'static' });
    L.ipv4.fib.add({ prefix: ip('198.51.100.0'), len: 24, type: 7, gateway: 0, oif: -1, metric: 0, proto: 'static' });
    L.ipv4.fib.add({ prefix: ip('203.0.113.0'), len: 24, type: 8, gateway: 0, oif: -1, metric: 0, proto: 'static' });
    const codes: number[] = [];
    for (const dst of ['8.8.8.8', '198.51.100.1', '203.0.113.1', '192.0.2.1']) {
      L.rx(ipFrame({ src: '10.1.0.2', dst, payload: pattern(8) }));
      for (const s of L.take()) {
        const e = icmpErr(s.bytes);
        expect(e.type).toBe(3);
        codes.push(e.code);
      }
    }
    expect(codes).toEqual([0, 1, 13]);
    expect(L.ipMib('InNoRoutes')).toBe(1);
    expect(L.drops('ip.blackhole')).toBe(1);
    expect(L.leaked()).toBe(0);
  });

  it('ip_forward = 0: not-local packets are dropped as InAddrErrors, no ICMP', () => {
    const L = lab({ sysctl: { ip_forward: 0 } });
    L.rx(ipFrame({ dst: '10.2.0.7' }));
    L.rx(ipFrame({ dst: '8.8.8.8' }));
    expect(L.take()).toHaveLength(0);
    expect(L.ipMib('InAddrErrors')).toBe(2);
  });

  it('DF and longer than the egress MTU -> fragmentation needed with the next-hop MTU (never rate limited)', () => {
    const L = lab({ mtu1: 1400 });
    for (let k = 0; k < 20; k++) L.rx(ipFrame({ src: '10.1.0.2', dst: '10.2.0.7', df: true, payload: pattern(1450) }));
    const out = L.take();
    expect(out).toHaveLength(20);
    const e = icmpErr(out[0].bytes);
    expect([e.type, e.code]).toEqual([3, 4]);
    expect(e.rest & 0xffff).toBe(1400);
    expect(L.ipMib('FragFails')).toBe(20);
    expect(L.icmpMib('OutRateLimitHost')).toBe(0);
  });

  it('errors are rate limited per destination: burst of 6, then one per icmp_ratelimit ms', () => {
    const L = lab();
    const send = (n: number, src = '10.1.0.2') => {
      for (let k = 0; k < n; k++) L.rx(ipFrame({ src, dst: '10.2.0.7', ttl: 1 }));
      return L.take().length;
    };
    expect(send(10)).toBe(6);
    expect(L.icmpMib('OutRateLimitHost')).toBe(4);
    expect(send(1, '10.1.0.3')).toBe(1); // another destination has its own bucket
    L.clock.t += 1000;
    expect(send(3)).toBe(1);
    L.clock.t += 10_000;
    expect(send(10)).toBe(6);
    expect(L.leaked()).toBe(0);
  });

  it('the global limit (icmp_msgs_per_sec, burst icmp_msgs_burst) caps all destinations together', () => {
    const L = lab({ sysctl: { icmp_msgs_burst: 10, icmp_msgs_per_sec: 100 } });
    for (let k = 0; k < 30; k++) L.rx(ipFrame({ src: (ip('10.1.0.0') + 2 + k) >>> 0, dst: '10.2.0.7', ttl: 1 }));
    expect(L.take()).toHaveLength(10);
    expect(L.icmpMib('OutRateLimitGlobal')).toBe(20);
    L.clock.t += 50; // 5 tokens
    for (let k = 0; k < 30; k++) L.rx(ipFrame({ src: (ip('10.1.0.0') + 100 + k) >>> 0, dst: '10.2.0.7', ttl: 1 }));
    expect(L.take()).toHaveLength(5);
  });

  it('never an error for an ICMP error, a broadcast, or a non-first fragment', () => {
    const L = lab();
    const quoted = ipFrame({ src: '10.2.0.7', dst: '10.1.0.2' }).subarray(14);
    L.rx(ipFrame({ src: '10.1.0.2', dst: '10.2.0.7', ttl: 1, proto: 1, payload: icmpMsg(3, 1, 0, quoted) }));
    L.rx(ipFrame({ src: '10.1.0.2', dst: '10.2.0.7', ttl: 1, proto: 1, payload: icmpMsg(200, 0, 0, quoted) }));
    L.rx(ipFrame({ src: '10.1.0.2', dst: '10.2.0.7', ttl: 1, fragOff: 64, payload: pattern(16) }));
    L.rx(ipFrame({ src: '10.1.0.2', dst: '10.1.0.255', proto: 99, payload: pattern(16) }));
    expect(L.take()).toHaveLength(0);
    // An ICMP *query* (echo) with TTL 1 does get one.
    L.rx(ipFrame({ src: '10.1.0.2', dst: '10.2.0.7', ttl: 1, proto: 1, payload: icmpMsg(8, 0, 0, pattern(8)) }));
    expect(L.take()).toHaveLength(1);
    expect(L.leaked()).toBe(0);
  });

  it('DF clear and too long for the egress MTU -> fragments that reassemble to the original', () => {
    for (const [mtu, size, opts] of [
      [576, 1400, []],
      [1000, 1472, []],
      [68, 300, [7, 7, 4, 0, 0, 0, 0, 0x82, 3, 0, 0, 0]],
    ] as Array<[number, number, number[]]>) {
      const L = lab({ mtu1: mtu });
      const payload = pattern(size, mtu);
      const orig = ipFrame({ src: '10.1.0.2', dst: '10.2.0.7', id: 4242, payload, options: opts });
      L.rx(orig);
      const out = L.take();
      expect(out.length).toBe(Math.ceil(size / ((mtu - 20 - ((opts.length + 3) & ~3)) & ~7)));
      const whole = new Uint8Array(size);
      let seen = 0;
      out.forEach((s, k) => {
        const p = parseIp(s.bytes);
        expect(p.hdrOk).toBe(true);
        expect(p.totLen).toBeLessThanOrEqual(mtu);
        expect(p.id).toBe(4242);
        expect(p.ttl).toBe(63);
        expect(p.mf).toBe(k !== out.length - 1);
        expect(s.oif).toBe(1);
        if (k > 0 && opts.length) {
          // RR (not copied) became NOOPs; the 0x82 (copied) option stayed.
          expect(Array.from(s.bytes.subarray(20, 27))).toEqual([1, 1, 1, 1, 1, 1, 1]);
          expect(s.bytes[27]).toBe(0x82);
        }
        whole.set(p.payload, p.fragOff);
        seen += p.payload.length;
      });
      expect(seen).toBe(size);
      expect(Array.from(whole)).toEqual(Array.from(payload));
      expect(L.ipMib('FragOKs')).toBe(1);
      expect(L.ipMib('FragCreates')).toBe(out.length);
      expect(L.leaked()).toBe(0);
    }
  });
});

