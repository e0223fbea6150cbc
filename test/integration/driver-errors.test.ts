// Clear errors, no crashes: zero-copy on veth, auto fallback, unknown interface, queue out of
// range, a taken queue, no privileges. After each: nothing attached, every frame back in its pool.
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DriverError, FramePool, native, nativeUmem, openPort, type Port } from '../../src/driver/index.ts';
import { Lab, hasXdp } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';

const DEV = 'snerr-a';
const lab = new Lab();
const pools: FramePool[] = [];
const ports: Port[] = [];

function pool(): { umem: ReturnType<typeof nativeUmem>; pool: FramePool } {
  const umem = nativeUmem(1024);
  const p = new FramePool(umem);
  pools.push(p);
  return { umem, pool: p };
}

function fails(fn: () => unknown): DriverError {
  try {
    const r = fn() as { port?: Port };
    if (r?.port) ports.push(r.port);
  } catch (e) {
    expect(e).toBeInstanceOf(DriverError);
    return e as DriverError;
  }
  throw new Error('expected a DriverError');
}

beforeAll(() => {
  const ns = lab.netns('err');
  lab.veth(DEV, 'snerr-b', ns, '10.215.0.1', '10.215.0.2');
});
afterEach(() => {
  for (const p of ports.splice(0)) p.close();
  for (const p of pools.splice(0)) expect(p.available).toBe(p.total);
  expect(hasXdp(DEV)).toBe(false);
  expect(native().xdpAttached()).toEqual([]);
});
afterAll(() => expect(lab.cleanup()).toEqual([]));

describe('driver errors', () => {
  it('xdp-zc on veth: EOPNOTSUPP with what to do', () => {
    const e = fails(() => openPort({ dev: DEV, mode: 'xdp-zc', ...pool() }));
    expect(e.syscall).toBe('bind(AF_XDP)');
    expect(e.errno).toBe('EOPNOTSUPP');
    expect(e.message).toMatch(/no AF_XDP zero-copy support.*use --mode xdp-drv/);
  });

  it('auto falls back to xdp-drv and reports why zero-copy failed', () => {
    const { port, report } = openPort({ dev: DEV, mode: 'auto', ...pool() });
    ports.push(port);
    expect(port.mode).toBe('xdp-drv');
    expect(report[0]).toMatch(/^xdp-zc: failed: bind\(AF_XDP\) EOPNOTSUPP: .*zero-copy/);
    expect(report[1]).toBe('xdp-drv: ok (copy)');
  });

  it('auto on a second port of a copy-mode shared UMEM: zero-copy refused with the reason, then xdp-drv', () => {
    lab.veth('snerr-c', 'snerr-d', 'sn-err', '10.215.1.1', '10.215.1.2');
    const first = openPort({ dev: DEV, mode: 'xdp-drv', ...pool() }).port;
    ports.push(first);
    const { port, report } = openPort({ dev: 'snerr-c', mode: 'auto', umem: first.umem, pool: first.pool });
    ports.push(port);
    expect(port.mode).toBe('xdp-drv');
    expect(report[0]).toMatch(/^xdp-zc: failed: bind\(AF_XDP\) EOPNOTSUPP: every port sharing a UMEM/);
  });

  it('unknown interface', () => {
    for (const mode of ['xdp-drv', 'auto'] as const) {
      const e = fails(() => openPort({ dev: 'snerr-nosuch', mode, ...pool() }));
      expect(e.errno).toBe('ENODEV');
      expect(e.message).toMatch(/no such interface: snerr-nosuch/);
    }
  });

  it('queue out of range names the queue count', () => {
    const e = fails(() => openPort({ dev: DEV, queue: 3, mode: 'xdp-drv', ...pool() }));
    expect(e.errno).toBe('EINVAL');
    expect(e.message).toMatch(/queue 3 out of range: snerr-a has 1 queue/);
  });

  it('a second socket on a taken queue: EBUSY after retrying', () => {
    const { port } = openPort({ dev: DEV, mode: 'xdp-drv', ...pool() });
    ports.push(port);
    // Same UMEM (same process): refused at once.
    const same = fails(() => openPort({ dev: DEV, mode: 'xdp-drv', umem: port.umem, pool: port.pool }));
    expect(same.errno).toBe('EBUSY');
    expect(same.message).toMatch(/already has a socket on snerr-a queue 0/);
    // Another UMEM: the kernel says EBUSY; we retry ~1.5 s, then say so.
    const t0 = Date.now();
    const other = fails(() => openPort({ dev: DEV, mode: 'xdp-drv', ...pool() }));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
    expect(other.errno).toBe('EBUSY');
    expect(other.message).toMatch(/queue 0 of snerr-a is taken by another AF_XDP socket.*retried/);
    expect(hasXdp(DEV)).toBe(true);
  });

  it('without privileges: EPERM naming the capability, no crash', () => {
    const r = spawnSync(
      'setpriv',
      ['--inh-caps=-all', '--bounding-set=-all', '--', process.execPath, '--import', 'tsx', 'test/integration/driver-errors-unpriv.child.ts', DEV],
      { encoding: 'utf8', cwd: new URL('../..', import.meta.url).pathname, timeout: 30_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const xdp = lines.find((l) => l.mode === 'xdp-drv');
    expect(xdp.isDriverError).toBe(true);
    expect(xdp.errno).toBe('EPERM');
    expect(xdp.message).toMatch(/CAP_NET_RAW/);
    const tap = lines.find((l) => l.mode === 'tap');
    expect(tap.errno).toBe('EPERM');
    expect(tap.message).toMatch(/CAP_NET_ADMIN/);
  });

  it('a process killed with SIGKILL leaves no program attached (bpf_link)', async () => {
    const c = spawn(process.execPath, ['--import', 'tsx', 'test/integration/driver-errors-hold.child.ts', DEV], {
      cwd: new URL('../..', import.meta.url).pathname,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const ready = await new Promise<string>((resolve) => {
        let out = '';
        c.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('ready')) resolve(out);
        });
        c.stderr.on('data', (d: Buffer) => (out += d.toString()));
        c.on('exit', () => resolve(out));
        setTimeout(() => resolve(out), 20_000); // a deadline: 'ready' is the condition
      });
      expect(ready).toContain('ready');
      expect(hasXdp(DEV)).toBe(true);
    } finally {
      c.kill('SIGKILL'); // by PID: only the child we started
      await new Promise((r) => c.once('exit', r));
    }
    // The kernel releases the link when it reaps the process: poll for it under a deadline.
    await waitFor(`the XDP program on ${DEV} to go`, () => !hasXdp(DEV), { everyMs: 50 }).catch(() => undefined);
    expect(hasXdp(DEV)).toBe(false);
  });
});
