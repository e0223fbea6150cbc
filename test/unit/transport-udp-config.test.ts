// The UDP part's control plane: `services:` in the config, the transport sysctls by their Linux
// names, and `softnet ss`'s selection and layout (pure functions; the control socket path is in
// the integration test).
import { describe, expect, it } from 'vitest';
import { expandShort, filterSockets, formatSs } from '../../src/cli/ss.ts';
import { parseConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/config/schema.ts';
import { Stack } from '../../src/stack/stack.ts';
import type { SockInfo } from '../../src/transport/index.ts';

const base = 'name: c1\nports: [{name: p0, dev: mem0, mode: memory, addresses: [10.1.0.1/24]}]\n';

function problems(yaml: string): string {
  try {
    parseConfig(base + yaml);
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  return '';
}

describe('services: in the config', () => {
  it('a service is {proto, port, kind, address?}', () => {
    const c = parseConfig(base + 'services:\n  - {proto: udp, port: 7, kind: echo}\n  - {proto: udp, port: 9, kind: discard, address: 10.1.0.1}\n');
    expect(c.services).toEqual([
      { proto: 'udp', port: 7, kind: 'echo' },
      { proto: 'udp', port: 9, kind: 'discard', address: '10.1.0.1' },
    ]);
    expect(parseConfig(base).services).toEqual([]);
  });

  it('errors name the path and the problem', () => {
    expect(problems('services: [{proto: udp, port: 7, kind: chargen}]')).toMatch(/services\[0\]\.kind: expected one of echo \| discard for udp, got the string "chargen"/);
    expect(problems('services: [{proto: sctp, port: 7, kind: echo}]')).toMatch(/services\[0\]\.proto: expected one of udp \| tcp/);
    expect(problems('services: [{proto: tcp, port: 7, kind: chargen}]')).toMatch(/services\[0\]\.kind: expected one of echo \| discard \| http for tcp/);
    expect(problems('services: [{proto: udp, port: 0, kind: echo}]')).toMatch(/services\[0\]\.port: 0 is out of range 1\.\.65535/);
    expect(problems('services: [{proto: udp, kind: echo}]')).toMatch(/services\[0\]\.port: required/);
    expect(problems('services: [{proto: udp, port: 7, kind: echo, host: x}]')).toMatch(/services\[0\]\.host: unknown key/);
    expect(problems('services: [{proto: udp, port: 7, kind: echo, address: 10.1.0.300}]')).toMatch(/services\[0\]\.address/);
    expect(problems('services: [{proto: udp, port: 7, kind: echo}, {proto: udp, port: 7, kind: discard}]')).toMatch(/services\[1\]\.port: udp port 7 is used by another service/);
  });

  it('a service that cannot bind fails the stack with its config path', async () => {
    const cfg = parseConfig(base + 'services:\n  - {proto: udp, port: 7, kind: echo}\n  - {proto: udp, port: 7, kind: discard, address: 10.1.0.1}\n');
    await expect(Stack.fromConfig(cfg, { control: null })).rejects.toThrow(/config: services\[1\]: bind EADDRINUSE 10\.1\.0\.1:7/);
  });
});

describe('transport sysctls', () => {
  it('net.core.rmem_*, ip_local_port_range, sock_frames_max by any of their names; the config sets them', async () => {
    const s = await Stack.fromConfig(parseConfig(base + 'sysctl: {net.core.rmem_max: 1048576, ip_local_port_range: "50000 50100"}\n'), { control: null });
    try {
      expect(s.sysctl('rmem_max')).toBe(1048576);
      expect(s.sysctl('net/core/rmem_max')).toBe(1048576);
      expect(s.sysctl('net.ipv4.ip_local_port_range')).toBe('50000\t50100');
      expect(s.sysctl('sock_frames_max')).toBe(s.pool.total / 4);
      expect(s.sysctl('net.core.rmem_default', 65536)).toBe(65536);
      expect(() => s.sysctl('ip_local_port_range', '6000 5000')).toThrow(/LO <= HI/);
      expect(() => s.sysctl('rmem_max', -1)).toThrow(/non-negative integer/);
      // IPv4's own still go to IPv4.
      expect(s.sysctl('ip_default_ttl')).toBe(64);
      expect(s.udp.createSocket().bind().address().port).toBeGreaterThanOrEqual(50000);
    } finally {
      await s.stop();
    }
  });
});

describe('softnet ss', () => {
  const row = (o: Partial<SockInfo>): SockInfo => ({ netid: 'udp', state: 'UNCONN', recvQ: 0, sendQ: 0, localAddress: '0.0.0.0', localPort: 7, peerAddress: '0.0.0.0', peerPort: 0, drops: 0, ...o });
  const rows = [
    row({}),
    row({ state: 'ESTAB', localAddress: '10.1.0.1', localPort: 40000, peerAddress: '10.1.0.2', peerPort: 53, recvQ: 4096 }),
    row({ netid: 'tcp', state: 'LISTEN', localPort: 80 }),
    row({ netid: 'tcp', state: 'ESTAB', localAddress: '10.1.0.1', localPort: 80, peerAddress: '10.1.0.2', peerPort: 51000, info: { rtt: '0.1/0.05', cwnd: 10 } }),
  ];

  it('short flags combine; -l listening (UNCONN, LISTEN), -a all, default the others; -t/-u select protocols', () => {
    expect(expandShort(['-uln', '--name', 'x'])).toEqual(['--udp', '--listening', '--numeric', '--name', 'x']);
    expect(() => expandShort(['-x'])).toThrow(/unknown option '-x'/);
    const f = (o: Partial<{ tcp: boolean; udp: boolean; listening: boolean; all: boolean }>) =>
      filterSockets(rows, { tcp: false, udp: false, listening: false, all: false, ...o }).map((r) => `${r.netid} ${r.state} ${r.localPort}`);
    expect(f({ udp: true, listening: true })).toEqual(['udp UNCONN 7']);
    expect(f({ udp: true })).toEqual(['udp ESTAB 40000']);
    expect(f({ all: true })).toHaveLength(4);
    expect(f({ tcp: true, listening: true })).toEqual(['tcp LISTEN 80']);
    expect(f({})).toEqual(['udp ESTAB 40000', 'tcp ESTAB 80']);
  });

  it('lays rows out like iproute2 ss: Netid only for several protocols, address:port aligned, service names unless -n, -i details', () => {
    const names = new Map([['7/udp', 'echo'], ['53/udp', 'domain'], ['80/tcp', 'http']]);
    const one = formatSs([rows[0], rows[1]], { netid: false, numeric: false, info: false }, names);
    expect(one).toBe(
      [
        'State  Recv-Q Send-Q Local Address:Port  Peer Address:Port',
        'UNCONN 0      0            0.0.0.0:echo       0.0.0.0:*',
        'ESTAB  4096   0           10.1.0.1:40000     10.1.0.2:domain',
        '',
      ].join('\n'),
    );
    const all = formatSs(rows.slice(2), { netid: true, numeric: true, info: true }, names);
    expect(all.split('\n')[0]).toMatch(/^Netid State\s+Recv-Q Send-Q Local Address:Port\s+Peer Address:Port$/);
    expect(all).toMatch(/^tcp\s+ESTAB\s+0\s+0\s+10\.1\.0\.1:80\s+10\.1\.0\.2:51000\n\t rtt:0\.1\/0\.05 cwnd:10\n/m);
  });
});
