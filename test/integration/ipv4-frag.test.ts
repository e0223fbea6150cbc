// IPv4 fragments with kernel peers (issue 4): softnet reassembles pings to its own address and
// fragments the reply; forwards fragments between hosts as they are (B reassembles); refuses
// datagrams larger than a frame (ReasmFails). Hosts A 10.61.0.2 and B 10.62.0.2 in namespaces
// sn6-a / sn6-b, softnet on veths sn6-a0 / sn6-b0 (xdp-drv). Everything named sn6-*.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack } from '../../src/stack.ts';
import { nsExec } from '../../src/tools/lab.ts';
import { hasXdp, namespaces, pingSummary, waitFor } from './stack-helpers.ts';

const A = 'sn6-a';
const B = 'sn6-b';
let stack: Stack | undefined;

async function sh(ns: string | null, ...argv: string[]): Promise<void> {
  await nsExec(ns, argv, { check: true });
}

async function down(): Promise<void> {
  for (const d of ['sn6-a0', 'sn6-b0']) await nsExec(null, ['ip', 'link', 'del', 'dev', d]);
  for (const ns of [A, B]) await nsExec(null, ['ip', 'netns', 'del', ns]);
}

beforeAll(async () => {
  await down();
  for (const [ns, net, side] of [
    [A, '10.61.0', 'a'],
    [B, '10.62.0', 'b'],
  ]) {
    await sh(null, 'ip', 'netns', 'add', ns);
    await sh(ns, 'ip', 'link', 'set', 'lo', 'up');
    await sh(ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
    await sh(null, 'ip', 'link', 'add', `sn6-${side}0`, 'txqueuelen', '10000', 'type', 'veth', 'peer', 'name', `sn6-${side}1`, 'txqueuelen', '10000');
    await sh(null, 'ip', 'link', 'set', `sn6-${side}1`, 'netns', ns);
    await sh(null, 'sysctl', '-qw', `net.ipv6.conf.sn6-${side}0.disable_ipv6=1`);
    // GRO gives each veth end a NAPI context, which XDP redirects into it need.
    await sh(null, 'ethtool', '-K', `sn6-${side}0`, 'gro', 'on');
    await sh(ns, 'ethtool', '-K', `sn6-${side}1`, 'gro', 'on', 'tx', 'off');
    await sh(ns, 'ip', 'addr', 'add', `${net}.2/24`, 'dev', `sn6-${side}1`);
    await sh(ns, 'ip', 'link', 'set', `sn6-${side}1`, 'up');
    await sh(null, 'ip', 'link', 'set', `sn6-${side}0`, 'up');
    await sh(ns, 'ip', 'route', 'add', 'default', 'via', `${net}.1`);
  }
  stack = new Stack({ name: 'sn6frag', sysctl: { icmp_ratelimit: 0 } });
  await stack.addPort({ name: 'p0', dev: 'sn6-a0', mode: 'xdp-drv', addresses: ['10.61.0.1/24'] });
  await stack.addPort({ name: 'p1', dev: 'sn6-b0', mode: 'xdp-drv', addresses: ['10.62.0.1/24'] });
  await stack.start();
}, 60_000);

afterAll(async () => {
  try {
    if (stack) {
      const acct = await stack.stop();
      expect(acct.lost).toBe(0);
      expect(await hasXdp('sn6-a0')).toBe(false);
    }
  } finally {
    await down();
  }
  expect(await namespaces('sn6-')).toEqual([]);
});

const mib = () => stack!.stats().mib.Ip;

describe('IPv4 fragments with kernel peers', () => {
  it('ping -s 1600 to softnet: reassembled (ReasmOKs), the reply fragmented (FragCreates), 0% loss', async () => {
    const before = { ok: mib().ReasmOKs, fc: mib().FragCreates };
    // -c with -w: ping waits for 5 replies (resending what a kernel or veth lost under load).
    const r = await nsExec(A, ['ping', '-c', '5', '-i', '0.05', '-w', '20', '-s', '1600', '10.61.0.1']);
    const p = pingSummary(r.stdout);
    expect(p.rx).toBe(5);
    // Every reply came from a reassembled request, at most one per request sent; each reply
    // left in exactly two fragments.
    const ok = mib().ReasmOKs - before.ok;
    expect(ok).toBeGreaterThanOrEqual(5);
    expect(ok).toBeLessThanOrEqual(p.tx);
    expect(mib().FragCreates - before.fc).toBe(2 * ok);
  });

  it('ping -s 3000 from A to B: fragments are forwarded as they are and B reassembles', async () => {
    const reqds = mib().ReasmReqds;
    const r = await nsExec(A, ['ping', '-c', '5', '-i', '0.05', '-w', '20', '-s', '3000', '10.62.0.2']);
    expect(pingSummary(r.stdout).rx).toBe(5);
    expect(mib().ReasmReqds).toBe(reqds);
    expect(mib().ForwDatagrams).toBeGreaterThanOrEqual(30);
  });

  it('a datagram larger than one frame cannot be reassembled: ReasmFails, no reply', async () => {
    const fails = mib().ReasmFails;
    const r = await nsExec(A, ['ping', '-c', '2', '-i', '0.1', '-W', '1', '-s', '2000', '10.61.0.1']);
    expect(pingSummary(r.stdout).rx).toBe(0);
    await waitFor('ReasmFails to count the oversized datagram', () => mib().ReasmFails > fails);
    // Normal pings keep working after.
    const ok = await nsExec(A, ['ping', '-c', '3', '-i', '0.05', '-w', '20', '10.61.0.1']);
    expect(pingSummary(ok.stdout).rx).toBe(3);
  });
});
