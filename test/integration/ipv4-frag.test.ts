// IPv4 fragments with kernel peers: softnet reassembles pings to its own address and
// fragments the reply; forwards fragments between hosts as they are (B reassembles); refuses
// datagrams larger than a frame (ReasmFails). Hosts A 10.61.0.2 and B 10.62.0.2 in namespaces
// sn-frag-a / sn-frag-b, softnet on veths snfrag-a0 / snfrag-b0 (xdp-drv).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack } from '../../src/stack/stack.ts';
import { nsExec } from '../../src/tools/lab.ts';
import { expectReplies, pingSummary } from '../support/kernel-peer.ts';
import { expectStopped } from '../support/lab-stack.ts';
import { Lab, run } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';

const lab = new Lab();
let A = '';
let B = '';
let stack: Stack | undefined;

beforeAll(async () => {
  A = lab.netns('frag-a');
  B = lab.netns('frag-b');
  for (const ns of [A, B]) run(ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
  lab.routerLink({ dev: 'snfrag-a0', hostDev: 'snfrag-a1', hostNs: A, net: '10.61.0' });
  lab.routerLink({ dev: 'snfrag-b0', hostDev: 'snfrag-b1', hostNs: B, net: '10.62.0' });
  stack = new Stack({ name: 'snfrag', sysctl: { icmp_ratelimit: 0 } });
  await stack.addPort({ name: 'p0', dev: 'snfrag-a0', mode: 'xdp-drv', addresses: ['10.61.0.1/24'] });
  await stack.addPort({ name: 'p1', dev: 'snfrag-b0', mode: 'xdp-drv', addresses: ['10.62.0.1/24'] });
  await stack.start();
}, 60_000);

afterAll(async () => {
  try {
    if (stack) await expectStopped(stack);
  } finally {
    expect(lab.cleanup()).toEqual([]);
  }
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
    expectReplies(r.stdout, 5);
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
    expectReplies(ok.stdout, 3);
  });
});
