import { describe, expect, it } from 'vitest';
import { PACKET_OTHERHOST } from '../../src/core/batch.ts';
import { ETH_HLEN } from '../../src/wire/ethernet.ts';
import { IPV4_CHECK, IPV4_HLEN, IPV4_VIHL, ipIhl, ipSendCheck } from '../../src/wire/ipv4.ts';
import { icmpMsg, ip, ipFrame, lab, parseIp } from '../support/ipv4-graph.ts';
import { pattern } from '../support/rng.ts';

const H = ETH_HLEN; // where the lab's frames carry the IPv4 header
/** Recompute the header checksum after a test broke another field (so that field is what fails). */
const fixIpCsum = (f: Uint8Array) => ipSendCheck(new DataView(f.buffer), H);

const echo = (data = pattern(56)) => icmpMsg(8, 0, 0x00010001, data);

describe('ip-rcv (ip_rcv_core)', () => {
  it('registers EtherType 0x0800 and the stage names', () => {
    const L = lab();
    for (const s of ['ip-rcv', 'ip-local-deliver', 'icmp-rcv', 'ip-forward', 'ip-output']) expect(L.g.has(s)).toBe(true);
  });

  it('a frame shorter than l3 + 20 is InHdrErrors', () => {
    const L = lab();
    L.rx(ipFrame().subarray(0, H + IPV4_HLEN - 1));
    expect(L.drops('ip.InHdrErrors')).toBe(1);
    expect(L.ipMib('InHdrErrors')).toBe(1);
    expect(L.ipMib('InReceives')).toBe(1);
    expect(L.leaked()).toBe(0);
  });

  it('version != 4 and IHL < 5 are InHdrErrors', () => {
    const L = lab();
    const v6 = ipFrame();
    v6[H + IPV4_VIHL] = 0x65;
    fixIpCsum(v6);
    const ihl4 = ipFrame();
    ihl4[H + IPV4_VIHL] = 0x44;
    L.rxMany([v6, ihl4]);
    expect(L.drops('ip.InHdrErrors')).toBe(2);
    expect(L.leaked()).toBe(0);
  });

  it('a header longer than the frame (IHL 15, 24-byte frame) is InHdrErrors, read nothing past it', () => {
    const L = lab();
    const f = ipFrame();
    f[H + IPV4_VIHL] = 0x4f;
    L.rx(f.subarray(0, H + 24));
    expect(L.drops('ip.InHdrErrors')).toBe(1);
  });

  it('a bad header checksum is InCsumErrors and InHdrErrors', () => {
    const L = lab();
    const f = ipFrame({ dst: '10.1.0.1', proto: 1, payload: echo() });
    f[H + IPV4_CHECK] ^= 0x55;
    L.rx(f);
    expect(L.drops('ip.InCsumErrors')).toBe(1);
    expect(L.ipMib('InCsumErrors')).toBe(1);
    expect(L.ipMib('InHdrErrors')).toBe(1);
    expect(L.take()).toHaveLength(0);
  });

  it('tot_len larger than the frame is InTruncatedPkts; smaller than IHL*4 is InHdrErrors', () => {
    const L = lab();
    const big = ipFrame({ payload: pattern(10), totLen: 31 });
    const small = ipFrame({ payload: pattern(10), totLen: 19 });
    L.rxMany([big, small]);
    expect(L.drops('ip.InTruncatedPkts')).toBe(1);
    expect(L.ipMib('InTruncatedPkts')).toBe(1);
    expect(L.drops('ip.InHdrErrors')).toBe(1);
    expect(L.leaked()).toBe(0);
  });

  it('Ethernet padding is trimmed to tot_len (the echo reply is not padded)', () => {
    const L = lab();
    L.rx(ipFrame({ dst: '10.1.0.1', proto: 1, payload: echo(new Uint8Array(0)), pad: 18 }));
    const [out] = L.take();
    expect(out.bytes.length).toBe(28);
    expect(parseIp(out.bytes).totLen).toBe(28);
  });

  it('PACKET_OTHERHOST frames are dropped before any parsing', () => {
    const L = lab();
    L.rx(ipFrame(), 0, PACKET_OTHERHOST);
    expect(L.drops('ip.otherhost')).toBe(1);
  });

  it('martian sources (0/8, loopback, multicast, broadcast, our own address) are InAddrErrors and in_martian_src', () => {
    const L = lab();
    for (const src of ['0.1.2.3', '127.0.0.1', '224.0.0.1', '255.255.255.255', '240.0.0.1', '10.2.0.1']) L.rx(ipFrame({ src }));
    expect(L.drops('ip.invalid_source')).toBe(6);
    expect(L.ipMib('InAddrErrors')).toBe(6);
    expect(L.ipv4.mib.rt.get('in_martian_src')).toBe(6);
    expect(L.take()).toHaveLength(0);
  });

  it('martian destinations (0/8, 127/8) and multicast are dropped as InAddrErrors', () => {
    const L = lab();
    for (const dst of ['0.0.0.1', '127.0.0.1', '239.1.1.1']) L.rx(ipFrame({ dst }));
    expect(L.drops('ip.invalid_dest')).toBe(3);
    expect(L.ipMib('InAddrErrors')).toBe(3);
  });

  it('well-formed options (NOP, RR, timestamp, EOL) pass and are kept when forwarding', () => {
    const L = lab();
    const rr = [7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0];
    const ts = [68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    L.rx(ipFrame({ options: [1, ...rr, ...ts, 0], payload: pattern(8) }));
    const [out] = L.take();
    const p = parseIp(out.bytes);
    expect(p.ihl).toBe(20 + 28);
    expect(p.hdrOk).toBe(true);
    expect(Array.from(out.bytes.subarray(21, 32))).toEqual(rr);
  });

  it('malformed options answer parameter problem with a pointer to the bad octet, InHdrErrors', () => {
    const cases: Array<[number[], number]> = [
      [[1, 7, 1, 0], 21], // option length 1 < 2: pointer at the type byte
      [[7, 9, 4, 0], 20], // length past the header end
      [[7, 3, 3, 0], 22], // RR pointer < 4
      [[68, 3, 5, 0], 21], // timestamp shorter than 4
      [[68, 8, 6, 0, 0, 0, 0, 0], 22], // timestamp pointer leaves no room
      [[1, 1, 1, 130], 23], // a lone type byte at the very end (no length)
    ];
    for (const [opts, ptr] of cases) {
      const L = lab();
      L.rx(ipFrame({ src: '10.1.0.2', dst: '10.1.0.1', proto: 1, options: opts, payload: echo() }));
      expect(L.ipMib('InHdrErrors')).toBe(1);
      const out = L.take();
      expect(out).toHaveLength(1);
      const p = parseIp(out[0].bytes);
      expect(p.proto).toBe(1);
      expect(p.dst).toBe(ip('10.1.0.2'));
      expect(p.payload[0]).toBe(12); // parameter problem
      expect(p.payload[4]).toBe(ptr);
      expect(L.leaked()).toBe(0);
    }
  });

  it('source-routed packets are dropped (accept_source_route = 0)', () => {
    const L = lab();
    L.rx(ipFrame({ options: [131, 7, 4, 10, 2, 0, 2, 0], payload: pattern(8) }));
    expect(L.drops('ip.source_route')).toBe(1);
    expect(L.take()).toHaveLength(0);
  });

  it('a flood of random garbage never throws and never leaks a frame', () => {
    const L = lab({ frames: 2048 });
    let x = 12345;
    const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 16) & 0xff;
    for (let round = 0; round < 300; round++) {
      const frames: Uint8Array[] = [];
      for (let k = 0; k < 64; k++) {
        const base = ipFrame({ dst: ['10.1.0.1', '10.2.0.2', '10.9.9.9', '10.1.0.255'][k & 3], proto: [1, 6, 17, 99][(k >> 2) & 3], ttl: 1 + (k & 3), payload: pattern(rnd() * 4, k), options: k % 5 === 0 ? [rnd(), rnd(), rnd(), rnd()] : [] });
        const f = base.slice(0, H + Math.max(0, base.length - H - (rnd() & 31)));
        // Corrupt a few bytes, sometimes fixing the checksum so deeper code sees the garbage.
        for (let c = 0; c < (rnd() & 7); c++) f[H + (rnd() % Math.max(1, f.length - H))] = rnd();
        if (rnd() & 1 && f.length >= H + Math.max(IPV4_HLEN, ipIhl(f, H))) fixIpCsum(f);
        frames.push(f);
      }
      L.rxMany(frames, round & 1);
      L.take();
      expect(L.leaked()).toBe(0);
    }
  });
});
