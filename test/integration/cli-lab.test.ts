// softnet lab: what `up` makes, that `down` removes exactly that, and the Linux-router variant.
import { afterAll, describe, expect, it } from 'vitest';
import { labDown, labShow, labUp, nsExec } from '../../src/tools/lab.ts';
import { softnet } from '../support/cli.ts';

const cli = (...args: string[]) => softnet(args);

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
  for (const n of ['labcli', 'labrtr', 'labmq']) await labDown(n);
});

describe('softnet lab', () => {
  it('up makes two hosts and the softnet-side ends; down removes exactly them', async () => {
    await labDown('labcli');
    const before = await snapshot();
    const up = await cli('lab', 'up', '--name', 'labcli', '--json');
    expect(up.code, up.stderr).toBe(0);
    const lab = JSON.parse(up.stdout);
    expect(lab.a.dev).toBe('snlabcli-a0');
    expect(lab.a.host).toMatchObject({ ns: 'sn-labcli-a', dev: 'snlabcli-a1', ip: '10.1.0.2', gw: '10.1.0.1', mac: '02:00:0a:01:00:02' });
    expect(lab.b.host).toMatchObject({ ns: 'sn-labcli-b', dev: 'snlabcli-b1', ip: '10.2.0.2', gw: '10.2.0.1' });
    expect(lab.router).toBeNull();
    expect(lab.a.ifindex).toBeGreaterThan(0);

    // Softnet side: root namespace, up, no IPv4 address, IPv6 off, GRO on, big txqueuelen.
    const addr = await nsExec(null, ['ip', '-j', 'addr', 'show', 'dev', 'snlabcli-a0']);
    expect(JSON.parse(addr.stdout)[0].addr_info).toEqual([]);
    expect((await nsExec(null, ['cat', '/proc/sys/net/ipv6/conf/snlabcli-a0/disable_ipv6'])).stdout.trim()).toBe('1');
    expect((await nsExec(null, ['ethtool', '-k', 'snlabcli-b0'])).stdout).toMatch(/generic-receive-offload: on/);
    expect((await nsExec(null, ['ip', 'link', 'show', 'snlabcli-a0'])).stdout).toMatch(/qlen 10000/);
    // Host side: address and default route.
    const route = await nsExec('sn-labcli-b', ['ip', 'route', 'show', 'default']);
    expect(route.stdout).toContain('via 10.2.0.1 dev snlabcli-b1');

    const again = await cli('lab', 'up', '--name', 'labcli');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("lab 'labcli' is already up");

    const show = await cli('lab', 'show', '--name', 'labcli');
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('snlabcli-a1 10.1.0.2/24');

    const down = await cli('lab', 'down', '--name', 'labcli');
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toContain('sn-labcli-a');
    const after = await snapshot();
    // Other labs may come and go meanwhile: compare only this lab's names.
    expect(names(after.ns, 'sn-labcli')).toEqual(names(before.ns, 'sn-labcli'));
    expect(names(after.links, 'snlabcli')).toEqual(names(before.links, 'snlabcli'));
    expect(after.ns).not.toContain('labcli');
    expect(after.links).not.toContain('labcli');

    const twice = await cli('lab', 'down', '--name', 'labcli');
    expect(twice.code).toBe(0);
    expect(twice.stdout).toContain('nothing to remove');
    const missing = await cli('lab', 'show', '--name', 'labcli');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("lab 'labcli' is not up");
  });

  it('--linux-router forwards between the hosts (the Linux baseline)', async () => {
    await labDown('labrtr');
    const lab = await labUp({ name: 'labrtr', linuxRouter: true });
    try {
      expect(lab.router).toBe('sn-labrtr-r');
      expect(lab.a.ns).toBe('sn-labrtr-r');
      // Nothing of this lab in the root namespace.
      expect((await nsExec(null, ['ip', 'link', 'show', 'snlabrtr-a0'])).code).not.toBe(0);
      const ping = await nsExec('sn-labrtr-a', ['ping', '-c', '3', '-i', '0.2', '-w', '20', '10.2.0.2']);
      expect(ping.stdout).toContain('3 received');
      expect((await labShow('labrtr')).b.ip).toBe('10.2.0.1');
    } finally {
      expect((await labDown('labrtr')).sort()).toEqual(['sn-labrtr-a', 'sn-labrtr-b', 'sn-labrtr-r']);
    }
  });

  it('--queues gives every veth end that many RX/TX queues', async () => {
    await labDown('labmq');
    try {
      const r = await cli('lab', 'up', '--name', 'labmq', '--queues', '2');
      expect(r.code, r.stderr).toBe(0);
      const q = await nsExec(null, ['ls', '/sys/class/net/snlabmq-a0/queues']);
      expect(q.stdout.split(/\s+/).filter(Boolean).sort()).toEqual(['rx-0', 'rx-1', 'tx-0', 'tx-1']);
      const h = await nsExec('sn-labmq-b', ['ls', '/sys/class/net/snlabmq-b1/queues']);
      expect(h.stdout).toContain('rx-1');
    } finally {
      await labDown('labmq');
    }
  });

  it('refuses names that would not fit an interface name', async () => {
    const r = await cli('lab', 'up', '--name', 'toolongname');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('1-6 characters');
    expect((await nsExec(null, ['ip', 'netns', 'list'])).stdout).not.toContain('toolongname');
  });
});
