// Unprivileged driver checks: error hints, the native UMEM as an external buffer.
import { describe, expect, it } from 'vitest';
import { driverError, FramePool, hintFor, native, nativeUmem } from '../../src/driver/index.ts';

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
