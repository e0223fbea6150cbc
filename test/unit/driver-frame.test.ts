// Unprivileged driver checks: frame crafting, error hints, the native UMEM as an external buffer.
import { describe, expect, it } from 'vitest';
import { buildUdpFrame, driverError, FramePool, hintFor, ipChecksum, native, nativeUmem, parseIpv4, parseMac } from '../../src/driver/index.ts';

describe('buildUdpFrame', () => {
  it('writes Ethernet/IPv4/UDP with a valid header checksum', () => {
    const f = buildUdpFrame({ srcMac: '02:00:00:00:00:01', dstMac: Uint8Array.from([2, 0, 0, 0, 0, 2]), srcIp: '10.0.0.1', dstIp: 0x0a000002, sport: 1234, dport: 80, size: 60 });
    const dv = new DataView(f.buffer);
    expect(f.length).toBe(60);
    expect([...f.subarray(6, 12)]).toEqual([2, 0, 0, 0, 0, 1]);
    expect(dv.getUint16(12)).toBe(0x0800);
    expect(f[14]).toBe(0x45);
    expect(dv.getUint16(16)).toBe(46);
    expect(f[23]).toBe(17);
    expect(dv.getUint32(26)).toBe(0x0a000001);
    expect(dv.getUint32(30)).toBe(0x0a000002);
    expect(ipChecksum(f, 14, 20)).toBe(0); // a correct checksum sums to 0
    expect(dv.getUint16(34)).toBe(1234);
    expect(dv.getUint16(36)).toBe(80);
    expect(dv.getUint16(38)).toBe(26);
  });

  it('matches a known header checksum', () => {
    // RFC 1071-style example: 45 00 00 73 00 00 40 00 40 11 [b8 61] c0 a8 00 01 c0 a8 00 c7
    const h = Uint8Array.from([0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0, 0xc7]);
    expect(ipChecksum(h, 0, 20)).toBe(0xb861);
  });

  it('rejects bad input with a message', () => {
    expect(() => parseMac('02:00:00')).toThrow(/bad MAC/);
    expect(() => parseIpv4('10.0.0.256')).toThrow(/bad IPv4/);
    expect(() => buildUdpFrame({ srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', srcIp: 1, dstIp: 2, sport: 1, dport: 2, size: 20 })).toThrow(/out of range/);
  });
});

describe('error hints', () => {
  it('name the capability, the queue, the interface', () => {
    expect(hintFor('socket(AF_XDP)', 'EPERM', {})).toMatch(/CAP_NET_RAW/);
    expect(hintFor('bpf(BPF_PROG_LOAD)', 'EPERM', {})).toMatch(/CAP_BPF/);
    expect(hintFor('setsockopt(XDP_UMEM_REG)', 'ENOBUFS', { umemBytes: 8 << 20 })).toMatch(/CAP_IPC_LOCK.*ulimit -l/);
    expect(hintFor('bind(AF_XDP)', 'EBUSY', { dev: 'eth9', queue: 2 })).toMatch(/queue 2 of eth9 is taken/);
    expect(hintFor('bind(AF_XDP)', 'EOPNOTSUPP', { dev: 'veth0', mode: 'xdp-zc' })).toMatch(/no AF_XDP zero-copy/);
    expect(hintFor('if_nametoindex', 'ENODEV', { dev: 'nope0' })).toMatch(/no such interface: nope0/);
    expect(hintFor('bind(AF_XDP)', 'EINVAL', { dev: 'lo', queue: 99 })).toMatch(/queue 99 out of range: lo has \d+ queue/);
  });

  it('turn a native error into a DriverError', () => {
    const e = Object.assign(new Error('bind(AF_XDP): EBUSY (Device or resource busy)'), { syscall: 'bind(AF_XDP)', errno: 'EBUSY' });
    const d = driverError(e, { dev: 'eth0', queue: 1 });
    expect(d.name).toBe('DriverError');
    expect(d.syscall).toBe('bind(AF_XDP)');
    expect(d.errno).toBe('EBUSY');
    expect(d.message).toMatch(/^eth0 queue 1: bind\(AF_XDP\): EBUSY.*— queue 1 of eth0 is taken/);
  });
});

describe('native UMEM', () => {
  it('is one external ArrayBuffer, frames aligned, usable by a FramePool', () => {
    const u = nativeUmem(256);
    expect(u.buffer.byteLength).toBe(256 * 2048);
    expect(u.handle).toBeGreaterThanOrEqual(0);
    u.u8[0] = 7;
    u.dv.setUint32(2048 * 255, 0xdeadbeef);
    expect(u.dv.getUint32(2048 * 255)).toBe(0xdeadbeef);
    const p = new FramePool(u);
    expect(p.alloc()).toBe(u.headroom);
    expect(native().noop(5, 6)).toBe(5);
  });

  it('refuses frame sizes AF_XDP cannot use', () => {
    expect(() => nativeUmem(16, 1024)).toThrow(/2048 or 4096/);
  });
});
