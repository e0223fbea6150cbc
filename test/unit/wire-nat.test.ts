import { describe, expect, it } from 'vitest';
import { csumFinish, csumPartial, pseudoHdrSum } from '../../src/wire/checksum.ts';
import { ETH_HLEN } from '../../src/wire/ethernet.ts';
import { buildFrame } from '../../src/wire/frame.ts';
import { ICMP_CHECKSUM, ICMP_DEST_UNREACH, ICMP_ECHO, ICMP_ECHO_ID, ICMP_ECHOREPLY, ICMP_HLEN, ICMP_PORT_UNREACH, ICMP_TIME_EXCEEDED, icmpCsumOk } from '../../src/wire/icmp.ts';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPV4_CHECK, IPV4_DADDR, IPV4_HLEN, IPV4_SADDR, ipHdrCsumOk, ipSendCheck } from '../../src/wire/ipv4.ts';
import { NAT_MANIP_DST, NAT_MANIP_SRC, natManip, natManipAddr, natManipIcmpInner } from '../../src/wire/nat.ts';
import { TCP_ACK, TCP_CHECK, TCP_DEST, TCP_SOURCE } from '../../src/wire/tcp.ts';
import { UDP_CHECK, UDP_DEST, UDP_SOURCE } from '../../src/wire/udp.ts';
import { rng } from '../support/rng.ts';

const L3 = ETH_HLEN;

function bytes(r: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let k = 0; k < n; k++) b[k] = r() & 255;
  return b;
}

/** The L4 checksum field a full computation gives (UDP: 0 sent as 0xffff). */
function fullL4(dv: DataView, l4: number, len: number, proto: number, s: number, d: number, off: number): number {
  const old = dv.getUint16(l4 + off);
  dv.setUint16(l4 + off, 0);
  const c = csumFinish(csumPartial(dv, l4, len, proto === IPPROTO_ICMP ? 0 : pseudoHdrSum(s, d, proto, len)));
  dv.setUint16(l4 + off, old);
  return proto === IPPROTO_UDP && c === 0 ? 0xffff : c;
}

function fullIp(dv: DataView, h: number): number {
  const old = dv.getUint16(h + IPV4_CHECK);
  ipSendCheck(dv, h);
  const c = dv.getUint16(h + IPV4_CHECK);
  dv.setUint16(h + IPV4_CHECK, old);
  return c;
}

describe('wire/nat: incremental checksum updates equal full recomputation', () => {
  it('TCP, UDP (with and without checksum), ICMP echo: random frames, both manip types', () => {
    const r = rng(11);
    for (let n = 0; n < 6000; n++) {
      const kind = n % 4;
      const payload = bytes(r, r() % 300);
      const ip = { src: r() >>> 0, dst: r() >>> 0, id: r() & 0xffff, ttl: 1 + (r() % 255), options: r() % 4 === 0 ? [1, 1, 1, 0] : [] };
      const f =
        kind === 0
          ? buildFrame({ ip, tcp: { sport: r() & 0xffff, dport: r() & 0xffff, seq: r(), ack: r(), flags: TCP_ACK, ts: r() % 2 === 0 ? [r(), r()] : undefined }, payload })
          : kind === 1
            ? buildFrame({ ip, udp: { sport: r() & 0xffff, dport: r() & 0xffff, csum: true }, payload })
            : kind === 2
              ? buildFrame({ ip, udp: { sport: r() & 0xffff, dport: r() & 0xffff, csum: false }, payload })
              : buildFrame({ ip, icmp: { type: r() % 2 === 0 ? ICMP_ECHO : ICMP_ECHOREPLY, rest: r() }, payload });
      const dv = new DataView(f.buffer);
      const ihl = (f[L3] & 15) << 2;
      const l4 = L3 + ihl;
      const len = f.length - l4;
      const manip = r() % 2 === 0 ? NAT_MANIP_SRC : NAT_MANIP_DST;
      const addr = r() % 8 === 0 ? dv.getUint32(L3 + (manip === NAT_MANIP_SRC ? IPV4_SADDR : IPV4_DADDR)) : r() >>> 0;
      const port = r() % 8 === 0 ? 0 : r() & 0xffff;
      expect(natManip(dv, L3, f.length - L3, manip, addr, port)).toBe(true);
      expect(dv.getUint32(L3 + (manip === NAT_MANIP_SRC ? IPV4_SADDR : IPV4_DADDR))).toBe(addr);
      expect(dv.getUint16(L3 + IPV4_CHECK)).toBe(fullIp(dv, L3));
      expect(ipHdrCsumOk(dv, L3, ihl >>> 2)).toBe(true);
      const s = dv.getUint32(L3 + IPV4_SADDR);
      const d = dv.getUint32(L3 + IPV4_DADDR);
      if (kind === 0) {
        expect(dv.getUint16(l4 + (manip === NAT_MANIP_SRC ? TCP_SOURCE : TCP_DEST))).toBe(port);
        expect(dv.getUint16(l4 + TCP_CHECK)).toBe(fullL4(dv, l4, len, IPPROTO_TCP, s, d, TCP_CHECK));
      } else if (kind === 1) {
        expect(dv.getUint16(l4 + (manip === NAT_MANIP_SRC ? UDP_SOURCE : UDP_DEST))).toBe(port);
        expect(dv.getUint16(l4 + UDP_CHECK)).toBe(fullL4(dv, l4, len, IPPROTO_UDP, s, d, UDP_CHECK));
      } else if (kind === 2) {
        expect(dv.getUint16(l4 + (manip === NAT_MANIP_SRC ? UDP_SOURCE : UDP_DEST))).toBe(port);
        expect(dv.getUint16(l4 + UDP_CHECK)).toBe(0); // no checksum stays no checksum
      } else {
        expect(dv.getUint16(l4 + ICMP_ECHO_ID)).toBe(port);
        expect(dv.getUint16(l4 + ICMP_CHECKSUM)).toBe(fullL4(dv, l4, len, IPPROTO_ICMP, s, d, ICMP_CHECKSUM));
        expect(icmpCsumOk(dv, l4, len)).toBe(true);
      }
    }
  });

  it('a UDP checksum that comes out 0 is sent as 0xffff, and 0xffff patches back exactly', () => {
    // Search a datagram whose patched checksum is 0: the field must then read 0xffff and verify.
    const r = rng(5);
    let hits = 0;
    for (let n = 0; n < 400000 && hits < 3; n++) {
      const f = buildFrame({ ip: { src: r() >>> 0, dst: r() >>> 0 }, udp: { sport: r() & 0xffff, dport: 53, csum: true }, payload: 4 });
      const dv = new DataView(f.buffer);
      const l4 = L3 + IPV4_HLEN;
      const c = dv.getUint16(l4 + UDP_CHECK);
      // choose the new source port that makes the sum come out 0: ~c + ~old + new == 0xffff (mod 0xffff)
      const old = dv.getUint16(l4 + UDP_SOURCE);
      let np = (0xffff - ((~c & 0xffff) + (~old & 0xffff)) % 0xffff) % 0xffff;
      if (np === 0) np = 0xffff;
      expect(natManip(dv, L3, f.length - L3, NAT_MANIP_SRC, dv.getUint32(L3 + IPV4_SADDR), np)).toBe(true);
      const now = dv.getUint16(l4 + UDP_CHECK);
      expect(now).toBe(fullL4(dv, l4, f.length - l4, IPPROTO_UDP, dv.getUint32(L3 + IPV4_SADDR), dv.getUint32(L3 + IPV4_DADDR), UDP_CHECK));
      if (now === 0xffff) hits++;
      // and back: the original checksum returns
      expect(natManip(dv, L3, f.length - L3, NAT_MANIP_SRC, dv.getUint32(L3 + IPV4_SADDR), old)).toBe(true);
      expect(dv.getUint16(l4 + UDP_CHECK)).toBe(c);
    }
    expect(hits).toBeGreaterThan(0);
  });

  it('non-first fragments: the address only; first fragments: ports and checksum too', () => {
    const payload = bytes(rng(3), 64);
    const later = buildFrame({ ip: { src: '10.0.0.2', dst: '192.0.2.9', fragOff: 64 }, udp: { sport: 1111, dport: 53, csum: true }, payload });
    const before = later.slice();
    const dv = new DataView(later.buffer);
    expect(natManip(dv, L3, later.length - L3, NAT_MANIP_SRC, 0xcb007101, 4444)).toBe(true);
    expect(dv.getUint32(L3 + IPV4_SADDR)).toBe(0xcb007101);
    expect(dv.getUint16(L3 + IPV4_CHECK)).toBe(fullIp(dv, L3));
    expect(later.subarray(L3 + IPV4_HLEN)).toEqual(before.subarray(L3 + IPV4_HLEN)); // no L4 header here to touch
    // a first fragment (MF) holds the header: its checksum (over the whole datagram) patched in place
    const first = buildFrame({ ip: { src: '10.0.0.2', dst: '192.0.2.9', mf: true }, udp: { sport: 1111, dport: 53, csum: true }, payload });
    const fv = new DataView(first.buffer);
    const c0 = fv.getUint16(L3 + IPV4_HLEN + UDP_CHECK);
    expect(natManip(fv, L3, first.length - L3, NAT_MANIP_SRC, 0xcb007101, 4444)).toBe(true);
    expect(fv.getUint16(L3 + IPV4_HLEN + UDP_SOURCE)).toBe(4444);
    expect(fv.getUint16(L3 + IPV4_HLEN + UDP_CHECK)).not.toBe(c0);
    expect(fv.getUint16(L3 + IPV4_HLEN + UDP_CHECK)).toBe(fullL4(fv, L3 + IPV4_HLEN, first.length - L3 - IPV4_HLEN, IPPROTO_UDP, 0xcb007101, 0xc0000209, UDP_CHECK));
  });

  it('ICMP errors are not queries: the outer manip leaves word 4 (unused / MTU) alone', () => {
    const f = buildFrame({ ip: { src: '192.0.2.1', dst: '203.0.113.5' }, icmp: { type: ICMP_DEST_UNREACH, code: 4, rest: 1400 }, payload: 28 });
    const dv = new DataView(f.buffer);
    const l4 = L3 + IPV4_HLEN;
    expect(natManip(dv, L3, f.length - L3, NAT_MANIP_DST, 0x0a000002, 777)).toBe(true);
    expect(dv.getUint32(l4 + 4)).toBe(1400);
    expect(icmpCsumOk(dv, l4, f.length - l4)).toBe(true);
    natManipAddr(dv, L3, NAT_MANIP_SRC, 0x0a000001);
    expect(dv.getUint32(L3 + IPV4_SADDR)).toBe(0x0a000001);
    expect(dv.getUint16(L3 + IPV4_CHECK)).toBe(fullIp(dv, L3));
  });

  it('truncated headers: refused without a write', () => {
    const f = buildFrame({ ip: { src: '10.0.0.2', dst: '192.0.2.9' }, udp: { sport: 1, dport: 2, csum: true } });
    const dv = new DataView(f.buffer);
    const copy = f.slice();
    expect(natManip(dv, L3, IPV4_HLEN + 7, NAT_MANIP_SRC, 1, 2)).toBe(false);
    expect(natManip(dv, L3, IPV4_HLEN - 1, NAT_MANIP_SRC, 1, 2)).toBe(false);
    f[L3] = 0x4f; // ihl 60 > what is there
    expect(natManip(dv, L3, f.length - L3, NAT_MANIP_SRC, 1, 2)).toBe(false);
    f[L3] = copy[L3];
    expect(f).toEqual(copy);
  });
});

describe('wire/nat: the datagram quoted by an ICMP error', () => {
  /** An ICMP error of `type` from `from` to `to` quoting `inner` (an IP datagram, cut to `quote` bytes). */
  function icmpError(type: number, code: number, from: string, to: string, inner: Uint8Array, quote: number): Uint8Array {
    return buildFrame({ ip: { src: from, dst: to }, icmp: { type, code }, payload: inner.subarray(L3, L3 + quote) });
  }

  it('TCP and UDP quotes (whole and 8-byte): inner addresses, ports, inner checksums and the ICMP checksum', () => {
    const r = rng(29);
    for (let n = 0; n < 3000; n++) {
      const tcp = n % 2 === 0;
      const payload = bytes(r, 20 + (r() % 200));
      const inner = tcp
        ? buildFrame({ ip: { src: r() >>> 0, dst: r() >>> 0 }, tcp: { sport: r() & 0xffff, dport: r() & 0xffff, seq: r(), flags: TCP_ACK }, payload })
        : buildFrame({ ip: { src: r() >>> 0, dst: r() >>> 0 }, udp: { sport: r() & 0xffff, dport: r() & 0xffff, csum: r() % 4 !== 0 }, payload });
      const short = r() % 3 === 0;
      const quote = short ? IPV4_HLEN + 8 : Math.min(inner.length - L3, 548);
      const type = r() % 2 === 0 ? ICMP_TIME_EXCEEDED : ICMP_DEST_UNREACH;
      const f = icmpError(type, type === ICMP_DEST_UNREACH ? ICMP_PORT_UNREACH : 0, '198.51.100.1', '203.0.113.7', inner, quote);
      const dv = new DataView(f.buffer);
      const p = L3 + IPV4_HLEN;
      const len = f.length - p;
      const q = p + ICMP_HLEN;
      const manip = r() % 2 === 0 ? NAT_MANIP_SRC : NAT_MANIP_DST;
      const addr = r() >>> 0;
      const port = r() & 0xffff;
      const innerL4Before = new DataView(inner.buffer).getUint16(L3 + IPV4_HLEN + (tcp ? TCP_CHECK : UDP_CHECK));
      expect(natManipIcmpInner(dv, p, len, manip, addr, port)).toBe(true);
      expect(icmpCsumOk(dv, p, len)).toBe(true);
      expect(dv.getUint32(q + (manip === NAT_MANIP_SRC ? IPV4_SADDR : IPV4_DADDR))).toBe(addr);
      expect(dv.getUint16(q + IPV4_CHECK)).toBe(fullIp(dv, q));
      expect(dv.getUint16(q + IPV4_HLEN + (manip === NAT_MANIP_SRC ? 0 : 2))).toBe(port);
      // the inner L4 checksum: patched as if the whole datagram were there (its tail is not)
      if (tcp && short) continue; // only 8 bytes quoted: the TCP checksum is not there to patch
      const ck = dv.getUint16(q + IPV4_HLEN + (tcp ? TCP_CHECK : UDP_CHECK));
      if (!tcp && innerL4Before === 0) expect(ck).toBe(0);
      else {
        // apply the same manip to the whole inner datagram and compare with its full checksum
        const whole = inner.slice();
        const wv = new DataView(whole.buffer);
        expect(natManip(wv, L3, whole.length - L3, manip, addr, port)).toBe(true);
        const l4 = L3 + IPV4_HLEN;
        const full = fullL4(wv, l4, whole.length - l4, tcp ? IPPROTO_TCP : IPPROTO_UDP, wv.getUint32(L3 + IPV4_SADDR), wv.getUint32(L3 + IPV4_DADDR), tcp ? TCP_CHECK : UDP_CHECK);
        expect(ck).toBe(full);
      }
    }
  });

  it('an ICMP echo quoted in an error gets its id; a bad ICMP checksum or a short quote is refused untouched', () => {
    const echo = buildFrame({ ip: { src: '203.0.113.7', dst: '192.0.2.1' }, icmp: { type: ICMP_ECHO, rest: (0x1234 << 16) | 1 }, payload: 32 });
    const f = icmpError(ICMP_TIME_EXCEEDED, 0, '198.51.100.1', '203.0.113.7', echo, IPV4_HLEN + 8);
    const dv = new DataView(f.buffer);
    const p = L3 + IPV4_HLEN;
    expect(natManipIcmpInner(dv, p, f.length - p, NAT_MANIP_SRC, 0x0a000002, 0x0042)).toBe(true);
    expect(dv.getUint16(p + ICMP_HLEN + IPV4_HLEN + ICMP_ECHO_ID)).toBe(0x0042);
    // the quoted echo's own checksum is patched as the whole echo's would be
    const whole = echo.slice();
    const wv = new DataView(whole.buffer);
    expect(natManip(wv, L3, whole.length - L3, NAT_MANIP_SRC, 0x0a000002, 0x0042)).toBe(true);
    expect(dv.getUint16(p + ICMP_HLEN + IPV4_HLEN + ICMP_CHECKSUM)).toBe(wv.getUint16(L3 + IPV4_HLEN + ICMP_CHECKSUM));
    expect(icmpCsumOk(wv, L3 + IPV4_HLEN, whole.length - L3 - IPV4_HLEN)).toBe(true);
    expect(icmpCsumOk(dv, p, f.length - p)).toBe(true);
    const bad = f.slice();
    bad[p + ICMP_CHECKSUM] ^= 1;
    const copy = bad.slice();
    expect(natManipIcmpInner(new DataView(bad.buffer), p, bad.length - p, NAT_MANIP_SRC, 1, 2)).toBe(false);
    expect(bad).toEqual(copy);
    const cut = icmpError(ICMP_TIME_EXCEEDED, 0, '198.51.100.1', '203.0.113.7', echo, IPV4_HLEN + 4);
    const cc = cut.slice();
    expect(natManipIcmpInner(new DataView(cut.buffer), p, cut.length - p, NAT_MANIP_SRC, 1, 2)).toBe(false);
    expect(cut).toEqual(cc);
  });
});
