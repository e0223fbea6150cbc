import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { ConfigError, validateConfig } from '../../src/config/schema.ts';

function problems(text: string): string[] {
  try {
    parseConfig(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems.map((p) => `${p.path}: ${p.problem}`);
  }
  throw new Error('expected a ConfigError');
}

describe('config schema', () => {
  it('fills defaults', () => {
    const c = parseConfig('name: r1\nports:\n  - {name: p0, dev: veth0, addresses: [10.1.0.1/24]}\n');
    expect(c.control).toBe('/run/softnet/r1.sock');
    expect(c.ports[0]).toEqual({ name: 'p0', dev: 'veth0', queue: 0, mode: 'auto', addresses: ['10.1.0.1/24'], mtu: 1500, vlans: [] });
    expect(c.napi).toEqual({ weight: 64, budget: 300, busy_poll: false, defer_hard_irqs: true, cpu: -1 });
    expect(c.routes).toEqual([]);
  });

  it('reads a full config', () => {
    const c = parseConfig(`
name: r1
control: /tmp/r1.sock
ports:
  - name: p0
    dev: veth-r0
    queue: 0
    mode: xdp-drv
    addresses: [10.1.0.1/24]
    mtu: 1500
    xdp: ./filters/blocklist.ts
    vlans:
      - {id: 100, addresses: [10.100.0.1/24]}
  - {name: p1, dev: tap0, mode: tap, mtu: 1400}
routes:
  - 10.3.0.0/16 via 10.1.0.2
netfilter:
  - -A FORWARD -p udp --dport 53 -j DROP
sysctl: {ip_forward: 1, icmp_ratelimit: 0}
napi: {weight: 32, budget: 128, busy_poll: true}
`);
    expect(c.ports[0].vlans).toEqual([{ id: 100, name: 'p0.100', addresses: ['10.100.0.1/24'] }]);
    expect(c.ports[1].mtu).toBe(1400);
    expect(c.sysctl).toEqual({ ip_forward: 1, icmp_ratelimit: 0 });
    expect(c.napi.busy_poll).toBe(true);
  });

  it('names the path and the problem', () => {
    const p = problems(`
name: r1
ports:
  - {name: p0, dev: veth0}
  - {name: p1, dev: veth1, mode: fast, addresses: [10.1.0.1], mtu: 20, colour: red}
napi: {weight: 0}
`);
    expect(p).toContain('ports[1].mode: expected one of auto | xdp-zc | xdp-drv | xdp-skb | tap | memory, got the string "fast"');
    expect(p.some((s) => s.startsWith('ports[1].addresses[0]: expected an IPv4 address'))).toBe(true);
    expect(p).toContain('ports[1].mtu: 20 is out of range 68..9000');
    expect(p.some((s) => s.startsWith('ports[1].colour: unknown key'))).toBe(true);
    expect(p).toContain('napi.weight: 0 is out of range 1..4096');
  });

  it('refuses unknown top-level keys, missing fields and duplicate names', () => {
    const p = problems('name: r1\nport: []\n');
    expect(p.some((s) => s.startsWith('port: unknown key'))).toBe(true);
    expect(p.some((s) => s.startsWith('ports: required'))).toBe(true);
    const q = problems('name: r1\nports:\n  - {name: p0, dev: a}\n  - {name: p0}\n');
    expect(q).toContain('ports[1].name: device name "p0" is used twice');
    expect(q.some((s) => s.startsWith('ports[1].dev: required'))).toBe(true);
  });

  it('reports YAML syntax errors with a line', () => {
    const p = problems('name: r1\nports: [\n');
    expect(p[0]).toMatch(/^line \d+:\d+: YAML/);
    const d = problems('name: r1\nname: r2\nports: []\n');
    expect(d[0]).toMatch(/YAML: .*(unique|Map keys)/i);
  });

  it('the error message lists every problem with the file', () => {
    try {
      validateConfig({ name: 'r1', ports: 'none' }, 'r1.yaml');
    } catch (e) {
      expect((e as Error).message).toBe('config r1.yaml: ports: expected a list, got the string "none"');
    }
  });
});

describe('examples/r1.yaml', () => {
  it('is a valid config', async () => {
    const { loadConfig } = await import('../../src/config/load.ts');
    const c = loadConfig(new URL('../../examples/r1.yaml', import.meta.url).pathname);
    expect(c.name).toBe('r1');
    expect(c.ports.map((p) => p.dev)).toEqual(['snlab-a0', 'snlab-b0']);
  });
});
