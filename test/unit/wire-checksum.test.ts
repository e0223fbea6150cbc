import { describe, expect, it } from 'vitest';
import { csumFinish, csumFold, csumPartial, csumReplace16 } from '../../src/wire/checksum.ts';
import { IPV4_CHECK, IPV4_TOT_LEN, IPV4_TTL, IPV4_VIHL, ipDecreaseTtl, ipHdrCsumOk, ipHdrCsumOk5, ipSendCheck } from '../../src/wire/ipv4.ts';
import { rng } from '../support/rng.ts';


/** RFC 1071 by the book, byte pairs, for comparison. */
function naive(bytes: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let k = 0; k < len; k += 2) s += (bytes[off + k] << 8) | (k + 1 < len ? bytes[off + k + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

describe('internet checksum', () => {
  it('csumPartial agrees with a byte-wise RFC 1071 sum for every length 0..300 and offsets', () => {
    const r = rng(7);
    const buf = new Uint8Array(400);
    for (let k = 0; k < buf.length; k++) buf[k] = r() & 255;
    const dv = new DataView(buf.buffer);
    for (let off = 0; off < 4; off++) {
      for (let len = 0; len <= 300; len++) expect(csumFold(csumPartial(dv, off, len, 0))).toBe(naive(buf, off, len));
    }
  });

  it('the RFC 1071 example sums to 0xddf2', () => {
    const b = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(csumFold(csumPartial(new DataView(b.buffer), 0, 8, 0))).toBe(0xddf2);
  });

  it('TTL decrement with RFC 1624 equals a full recompute (random headers, many seeds)', () => {
    const buf = new Uint8Array(60);
    const dv = new DataView(buf.buffer);
    for (let seed = 1; seed <= 200; seed++) {
      const r = rng(seed * 2654435761);
      for (let n = 0; n < 100; n++) {
        const ihl = 5 + (r() % 11);
        for (let k = 0; k < ihl * 4; k++) buf[k] = r() & 255;
        buf[IPV4_VIHL] = 0x40 | ihl;
        buf[IPV4_TTL] = 2 + (r() % 254); // TTL >= 2 (ip-forward only decrements those)
        ipSendCheck(dv, 0);
        expect(ihl === 5 ? ipHdrCsumOk5(dv, 0) : ipHdrCsumOk(dv, 0, ihl)).toBe(true);
        const ttl = buf[IPV4_TTL];
        expect(ipDecreaseTtl(dv, 0)).toBe(ttl - 1);
        const incremental = dv.getUint16(IPV4_CHECK);
        ipSendCheck(dv, 0);
        expect(incremental).toBe(dv.getUint16(IPV4_CHECK));
      }
    }
  });

  it('edge words: checksums 0x0000 and 0xfffe stay exact', () => {
    for (const w of [0x0000, 0x0001, 0xfffe, 0xffff, 0x8000]) {
      const buf = new Uint8Array(20);
      const dv = new DataView(buf.buffer);
      buf[IPV4_VIHL] = 0x45;
      buf[IPV4_TTL] = 64;
      dv.setUint16(IPV4_TOT_LEN, w);
      ipSendCheck(dv, 0);
      const before = dv.getUint16(IPV4_CHECK);
      dv.setUint16(IPV4_TOT_LEN, (w + 1) & 0xffff);
      const inc = csumReplace16(before, w, (w + 1) & 0xffff);
      ipSendCheck(dv, 0);
      expect(inc).toBe(dv.getUint16(IPV4_CHECK));
      expect(ipHdrCsumOk5(dv, 0)).toBe(true);
    }
    expect(csumFinish(0)).toBe(0xffff);
  });
});
