// softnet lab: what `up` makes, that `down` removes exactly that, and the Linux-router variant.
import { afterAll, describe, expect, it } from 'vitest';
import { labDown, labShow, labUp, nsExec } from '../../src/tools/lab.ts';

const CLI = ['node', 'bin/softnet.js'];
const cli = (...args: string[]) => nsExec(null, [...CLI, ...args], { timeoutMs: 60_000 });

async function snapshot(): Promise<{ ns: string; links: string }> {
  const ns = (await nsExec(null, ['ip', 'netns', 'list'])).stdout;
  const links = (await nsExec(null, ['ip', '-br', 'link'])).stdout;
  return { ns, links };
}
const names = (s: string, prefix: string) =>
  s
    .split('\n')
    .map((l) => l.split(/[\s@]/)[0])
    .filter((x) => x.startsWith(prefix))
    .sort();

afterAll(async () => {
  for (const n of ['t2l', 't2r', 't2m']) await labDown(n);
});

describe('softnet lab', () => {
  it('up makes two hosts and the softnet-side ends; down removes exactly them', async () => {
    await labDown('t2l');
    const before = await snapshot();
    const up = await cli('lab', 'up', '--name', 't2l', '--json');
    expect(up.code, up.stderr).toBe(0);
    const lab = JSON.parse(up.stdout);
    expect(lab.a.dev).toBe('snt2l-a0');
    expect(lab.a.host).toMatchObject({ ns: 'sn-t2l-a', dev: 'snt2l-a1', ip: '10.1.0.2', gw: '10.1.0.1', mac: '02:00:0a:01:00:02' });
    expect(lab.b.host).toMatchObject({ ns: 'sn-t2l-b', dev: 'snt2l-b1', ip: '10.2.0.2', gw: '10.2.0.1' });
    expect(lab.router).toBeNull();
    expect(lab.a.ifindex).toBeGreaterThan(0);

    // Softnet side: root namespace, up, no IPv4 address, IPv6 off, GRO on, big txqueuelen.
    const addr = await nsExec(null, ['ip', '-j', 'addr', 'show', 'dev', 'snt2l-a0']);
    expect(JSON.parse(addr.stdout)[0].addr_info).toEqual([]);
    expect((await nsExec(null, ['cat', '/proc/sys/net/ipv6/conf/snt2l-a0/disable_ipv6'])).stdout.trim()).toBe('1');
    expect((await nsExec(null, ['ethtool', '-k', 'snt2l-b0'])).stdout).toMatch(/generic-receive-offload: on/);
    expect((await nsExec(null, ['ip', 'link', 'show', 'snt2l-a0'])).stdout).toMatch(/qlen 10000/);
    // Host side: address and default route.
    const route = await nsExec('sn-t2l-b', ['ip', 'route', 'show', 'default']);
    expect(route.stdout).toContain('via 10.2.0.1 dev snt2l-b1');

    const again = await cli('lab', 'up', '--name', 't2l');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("lab 't2l' is already up");

    const show = await cli('lab', 'show', '--name', 't2l');
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('snt2l-a1 10.1.0.2/24');

    const down = await cli('lab', 'down', '--name', 't2l');
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toContain('sn-t2l-a');
    const after = await snapshot();
    // Other engineers' labs come and go meanwhile: compare only this lab's names.
    expect(names(after.ns, 'sn-t2l')).toEqual(names(before.ns, 'sn-t2l'));
    expect(names(after.links, 'snt2l')).toEqual(names(before.links, 'snt2l'));
    expect(after.ns).not.toContain('t2l');
    expect(after.links).not.toContain('t2l');

    const twice = await cli('lab', 'down', '--name', 't2l');
    expect(twice.code).toBe(0);
    expect(twice.stdout).toContain('nothing to remove');
    const missing = await cli('lab', 'show', '--name', 't2l');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("lab 't2l' is not up");
  });

  it('--linux-router forwards between the hosts (the Linux baseline)', async () => {
    await labDown('t2r');
    const lab = await labUp({ name: 't2r', linuxRouter: true });
    try {
      expect(lab.router).toBe('sn-t2r-r');
      expect(lab.a.ns).toBe('sn-t2r-r');
      // Nothing of this lab in the root namespace.
      expect((await nsExec(null, ['ip', 'link', 'show', 'snt2r-a0'])).code).not.toBe(0);
      const ping = await nsExec('sn-t2r-a', ['ping', '-c', '3', '-i', '0.2', '-w', '20', '10.2.0.2']);
      expect(ping.stdout).toContain('3 received');
      expect((await labShow('t2r')).b.ip).toBe('10.2.0.1');
    } finally {
      expect((await labDown('t2r')).sort()).toEqual(['sn-t2r-a', 'sn-t2r-b', 'sn-t2r-r']);
    }
  });

  it('--queues gives every veth end that many RX/TX queues', async () => {
    await labDown('t2m');
    try {
      const r = await cli('lab', 'up', '--name', 't2m', '--queues', '2');
      expect(r.code, r.stderr).toBe(0);
      const q = await nsExec(null, ['ls', '/sys/class/net/snt2m-a0/queues']);
      expect(q.stdout.split(/\s+/).filter(Boolean).sort()).toEqual(['rx-0', 'rx-1', 'tx-0', 'tx-1']);
      const h = await nsExec('sn-t2m-b', ['ls', '/sys/class/net/snt2m-b1/queues']);
      expect(h.stdout).toContain('rx-1');
    } finally {
      await labDown('t2m');
    }
  });

  it('refuses names that would not fit an interface name', async () => {
    const r = await cli('lab', 'up', '--name', 't2toolong');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('1-6 characters');
    expect((await nsExec(null, ['ip', 'netns', 'list'])).stdout).not.toContain('t2toolong');
  });
});
