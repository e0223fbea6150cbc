// Partial (CHECKSUM_PARTIAL) TCP/UDP checksums from veth peers: recognised by the field holding
// exactly the folded pseudo-header sum, completed at ip-rcv on flagged ports, counted per port.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import type { MemoryPort } from '../../src/driver/memory.ts';
import { CsumPartialRx } from '../../src/ipv4/csum-partial.ts';
import { csumFinish, csumFold, csumPartial, isPartialL4Csum, l4CsumComplete, pseudoHdrSum } from '../../src/wire/checksum.ts';
import { Stack } from '../../src/stack/stack.ts';
import { ETH_DST, ETH_HLEN } from '../../src/wire/ethernet.ts';
import { buildFrame } from '../../src/wire/frame.ts';
import { IPPROTO_UDP, IPV4_HLEN, ipIhl } from '../../src/wire/ipv4.ts';
import { TCP_ACK, TCP_CHECK, TCP_PSH } from '../../src/wire/tcp.ts';
import { UDP_CHECK, UDP_HLEN, UDP_LEN } from '../../src/wire/udp.ts';
import { ip, ipFrame, lab, parseIp } from '../support/ipv4-graph.ts';
import { pattern } from '../support/rng.ts';

const SRC = '10.1.0.2';
const DST = '10.2.0.7';

/** Where the checksum sits in a UDP or TCP header. */
const checkOff = (proto: 6 | 17) => (proto === IPPROTO_UDP ? UDP_CHECK : TCP_CHECK);

/** L4 segment bytes with a full checksum (UDP: header with length; TCP: 20-byte header, PSH ACK). */
function segment(proto: 6 | 17, payload: Uint8Array, src = SRC, dst = DST): Uint8Array {
  const l4 = proto === IPPROTO_UDP ? { udp: { sport: 40000, dport: 5001, csum: true } } : { tcp: { sport: 40000, dport: 5001, seq: 0x01020304, ack: 0, flags: TCP_PSH | TCP_ACK, window: 64240 } };
  return buildFrame({ ip: { src, dst }, ...l4, payload }).slice(ETH_HLEN + IPV4_HLEN);
}

/** The same segment as a sender with tx checksum offload leaves it: field = folded pseudo sum. */
function partial(full: Uint8Array, proto: 6 | 17, src = SRC, dst = DST): Uint8Array {
  const s = full.slice();
  new DataView(s.buffer).setUint16(checkOff(proto), csumFold(pseudoHdrSum(ip(src), ip(dst), proto, s.length)));
  return s;
}

/** Checksum over pseudo-header + segment verifies (what the receiving kernel checks). */
function l4Ok(d: Uint8Array): boolean {
  const p = parseIp(d);
  const seg = d.subarray(p.ihl, p.totLen);
  const dv = new DataView(seg.buffer, seg.byteOffset, seg.byteLength);
  return csumFold(csumPartial(dv, 0, seg.length, pseudoHdrSum(p.src, p.dst, p.proto, seg.length))) === 0xffff;
}

/** Run `complete` over a datagram placed at the very end of its own buffer (no slack to read). */
function completeAlone(dgram: Uint8Array, cp = new CsumPartialRx()): { out: Uint8Array; cp: CsumPartialRx } {
  const out = dgram.slice();
  const dv = new DataView(out.buffer);
  cp.complete(dv, 0, ipIhl(out, 0), out.length, 3);
  return { out, cp };
}

describe('partial checksum helpers', () => {
  it('isPartialL4Csum matches exactly the folded pseudo-header sum', () => {
    const f = csumFold(pseudoHdrSum(ip(SRC), ip(DST), 17, 108));
    expect(isPartialL4Csum(f, ip(SRC), ip(DST), 17, 108)).toBe(true);
    expect(isPartialL4Csum(f ^ 1, ip(SRC), ip(DST), 17, 108)).toBe(false);
    expect(isPartialL4Csum(f, ip(SRC), ip(DST), 6, 108)).toBe(false);
    expect(isPartialL4Csum(f, ip(SRC), ip(DST), 17, 109)).toBe(false);
    // Addresses with every bit set: the fold needs both carries.
    const g = csumFold(pseudoHdrSum(0xffffffff, 0xffffffff, 17, 0xffff));
    expect(isPartialL4Csum(g, 0xffffffff, 0xffffffff, 17, 0xffff)).toBe(true);
  });

  it('csumPartial (unrolled) equals a byte-by-byte sum for every offset and length, up to the buffer end', () => {
    const buf = pattern(2100, 77);
    const dv = new DataView(buf.buffer);
    const ref = (a: number, n: number, s0: number) => {
      let s = s0;
      for (let k = 0; k < n; k++) s += (k & 1) === 0 ? buf[a + k] << 8 : buf[a + k];
      return s;
    };
    for (let a = 0; a < 8; a++) for (let n = 0; n <= 70; n++) expect(csumPartial(dv, a, n, 5)).toBe(ref(a, n, 5));
    for (const n of [1466, 1467, 1480, 2000]) expect(csumPartial(dv, buf.length - n, n, 0)).toBe(ref(buf.length - n, n, 0));
  });

  it('l4CsumComplete turns a partial field into the full checksum, odd lengths included', () => {
    for (const n of [0, 1, 2, 3, 17, 1471]) {
      for (const proto of [6, 17] as const) {
        const full = segment(proto, pattern(n, n + 1));
        const p = partial(full, proto);
        l4CsumComplete(new DataView(p.buffer), 0, p.length, checkOff(proto));
        expect(Array.from(p)).toEqual(Array.from(full));
      }
    }
  });
});

describe('CsumPartialRx.complete (ip-rcv on a csum_partial port)', () => {
  for (const proto of [17, 6] as const) {
    const name = proto === 17 ? 'UDP' : 'TCP';
    it(`completes a partial ${name} checksum and counts it`, () => {
      const full = segment(proto, pattern(333, proto));
      const d = ipFrame({ src: SRC, dst: DST, proto, payload: partial(full, proto) }).subarray(ETH_HLEN);
      expect(l4Ok(d)).toBe(false);
      const { out, cp } = completeAlone(d);
      expect(l4Ok(out)).toBe(true);
      expect(Array.from(out.subarray(IPV4_HLEN))).toEqual(Array.from(full));
      expect(cp.completed[3]).toBe(1);
    });

    it(`leaves a full ${name} checksum untouched and uncounted`, () => {
      const d = ipFrame({ src: SRC, dst: DST, proto, payload: segment(proto, pattern(200, 9)) }).subarray(ETH_HLEN);
      const { out, cp } = completeAlone(d);
      expect(Array.from(out)).toEqual(Array.from(d));
      expect(cp.completed[3]).toBe(0);
    });
  }

  it('a genuine full checksum that collides with the pseudo-header sum is rewritten with itself', () => {
    // Choose two payload bytes so that the full checksum equals the folded pseudo-header sum.
    const n = 64;
    const s = segment(17, pattern(n, 5));
    const dv = new DataView(s.buffer);
    const target = csumFold(pseudoHdrSum(ip(SRC), ip(DST), 17, s.length));
    const cur = dv.getUint16(UDP_CHECK);
    // Changing payload word w by delta lowers the checksum by delta (one's complement).
    const delta = (cur - target + 0xffff) % 0xffff;
    const w = dv.getUint16(UDP_HLEN);
    dv.setUint16(UDP_HLEN, (w + delta) % 0xffff);
    dv.setUint16(UDP_CHECK, 0);
    dv.setUint16(UDP_CHECK, csumFinish(csumPartial(dv, 0, s.length, pseudoHdrSum(ip(SRC), ip(DST), 17, s.length))));
    expect(dv.getUint16(UDP_CHECK)).toBe(target);
    const d = ipFrame({ src: SRC, dst: DST, proto: 17, payload: s }).subarray(ETH_HLEN);
    expect(l4Ok(d)).toBe(true);
    const { out, cp } = completeAlone(d);
    expect(Array.from(out)).toEqual(Array.from(d)); // same bytes: harmless
    expect(cp.completed[3]).toBe(1); // but counted: the bytes cannot tell
  });

  it('a completed sum of 0 is sent as 0xffff (CSUM_MANGLED_0), so UDP does not read "no checksum"', () => {
    const s = segment(17, pattern(40, 11));
    const dv = new DataView(s.buffer);
    // Make the full checksum 0xffff (complement of a 0x0000 fold is impossible; 0xffff is the
    // value skb_checksum_help stores for a sum whose complement is 0).
    const cur = dv.getUint16(UDP_CHECK);
    const delta = (cur - 0xffff + 0xffff) % 0xffff;
    dv.setUint16(UDP_HLEN, (dv.getUint16(UDP_HLEN) + delta) % 0xffff);
    dv.setUint16(UDP_CHECK, 0);
    const c = csumFinish(csumPartial(dv, 0, s.length, pseudoHdrSum(ip(SRC), ip(DST), 17, s.length)));
    expect(c).toBe(0);
    const d = ipFrame({ src: SRC, dst: DST, proto: 17, payload: partial(s, 17) }).subarray(ETH_HLEN);
    const { out } = completeAlone(d);
    expect(new DataView(out.buffer).getUint16(IPV4_HLEN + UDP_CHECK)).toBe(0xffff);
    expect(l4Ok(out)).toBe(true);
  });

  it('UDP checksum 0 (none) stays 0', () => {
    const s = segment(17, pattern(50));
    new DataView(s.buffer).setUint16(UDP_CHECK, 0);
    const d = ipFrame({ src: SRC, dst: DST, proto: 17, payload: s }).subarray(ETH_HLEN);
    const { out, cp } = completeAlone(d);
    expect(Array.from(out)).toEqual(Array.from(d));
    expect(cp.completed[3]).toBe(0);
  });

  it('leaves fragments, other protocols, short segments and a UDP length mismatch alone, reading nothing past the datagram', () => {
    const full = segment(17, pattern(100));
    const cases: Uint8Array[] = [
      ipFrame({ proto: 17, mf: true, payload: partial(full, 17) }).subarray(ETH_HLEN),
      ipFrame({ proto: 17, fragOff: 8, payload: partial(full, 17) }).subarray(ETH_HLEN),
      ipFrame({ proto: 1, payload: partial(full, 17) }).subarray(ETH_HLEN),
      // Truncated L4: fewer bytes than a UDP (8) or TCP (20) header, down to none.
      ipFrame({ proto: 17, payload: partial(full, 17).subarray(0, 7) }).subarray(ETH_HLEN),
      ipFrame({ proto: 17, payload: new Uint8Array(0) }).subarray(ETH_HLEN),
      ipFrame({ proto: 6, payload: segment(6, new Uint8Array(0)).subarray(0, 19) }).subarray(ETH_HLEN),
      ipFrame({ proto: 6, payload: new Uint8Array(0) }).subarray(ETH_HLEN),
    ];
    // UDP length field larger than the datagram: never trusted to size the sum.
    const lie = partial(full, 17);
    new DataView(lie.buffer).setUint16(UDP_LEN, 9000);
    cases.push(ipFrame({ proto: 17, payload: lie }).subarray(ETH_HLEN));
    const cp = new CsumPartialRx();
    for (const d of cases) {
      const { out } = completeAlone(d, cp); // a read past the end would throw RangeError
      expect(Array.from(out)).toEqual(Array.from(d));
    }
    expect(cp.completed[3]).toBe(0);
  });
});

describe('ip-rcv with csum_partial', () => {
  it('forwards partial UDP/TCP from a flagged device with a valid checksum, and only from it', () => {
    const L = lab();
    L.ipv4.ipRcv.csumPartial.set(0, true);
    const udp = ipFrame({ src: SRC, dst: DST, proto: 17, payload: partial(segment(17, pattern(500)), 17) });
    const tcp = ipFrame({ src: SRC, dst: DST, proto: 6, payload: partial(segment(6, pattern(1001)), 6) });
    L.rxMany([udp, tcp], 0);
    const sent = L.take();
    expect(sent.length).toBe(2);
    for (const s of sent) {
      expect(parseIp(s.bytes).hdrOk).toBe(true);
      expect(l4Ok(s.bytes)).toBe(true);
    }
    expect(L.ipv4.ipRcv.csumPartial.completed[0]).toBe(2);
    // Device 1 is not flagged: the same bytes pass unchanged (what a real NIC port does).
    const back = ipFrame({ src: '10.2.0.7', dst: SRC, proto: 17, payload: partial(segment(17, pattern(64), '10.2.0.7', SRC), 17, '10.2.0.7', SRC) });
    L.rx(back, 1);
    const [b] = L.take();
    expect(l4Ok(b.bytes)).toBe(false);
    expect(Array.from(b.bytes.subarray(IPV4_HLEN))).toEqual(Array.from(back.subarray(ETH_HLEN + IPV4_HLEN)));
    expect(L.ipv4.ipRcv.csumPartial.completed[1]).toBe(0);
    expect(L.leaked()).toBe(0);
  });
});

describe('Stack: the csum_partial port option', () => {
  const cfg = (mode: string) =>
    parseConfig(`
name: cp
ports:
  - {name: p0, dev: mem0, mode: memory, addresses: [10.1.0.1/24], ${mode} vlans: [{id: 7, addresses: [10.7.0.1/24]}]}
  - {name: p1, dev: mem1, mode: memory, addresses: [10.2.0.1/24]}
`);

  it('is validated by the schema', () => {
    expect(() => cfg('csum_partial: sometimes,')).toThrow(/ports\[0\]\.csum_partial: expected one of auto \| on \| off/);
    expect(cfg('csum_partial: off,').ports[0].csum_partial).toBe('off');
    expect(cfg('').ports[0].csum_partial).toBeUndefined();
  });

  it('on: completed and counted per port in stats; VLAN sub-interfaces inherit it; auto is off for non-veth', async () => {
    const s = await Stack.fromConfig(cfg('csum_partial: on,'), { control: null });
    try {
      const info = s.portInfo();
      expect(info[0].report).toContain('csum_partial: on (on)');
      expect(info[1].report).toContain('csum_partial: off (auto)');
      const cp = s.ipv4.ipRcv.csumPartial;
      expect(cp.on[s.devs.get('p0.7').index]).toBe(1);
      expect(cp.on[s.devs.get('p1').index]).toBe(0);
      await s.start();
      const p0 = s.port('p0') as MemoryPort;
      const frame = ipFrame({ src: SRC, dst: '10.1.0.1', proto: 17, payload: partial(segment(17, pattern(20), SRC, '10.1.0.1'), 17, SRC, '10.1.0.1') });
      frame.set(s.devs.get('p0').mac, ETH_DST);
      p0.inject(frame);
      const deadline = Date.now() + 20_000;
      while (s.stats().ports.p0.csum_partial_completed !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const st = s.stats();
      expect(st.ports.p0.csum_partial_completed).toBe(1);
      expect(st.ports.p1.csum_partial_completed).toBeUndefined();
    } finally {
      await s.stop();
    }
  });
});
