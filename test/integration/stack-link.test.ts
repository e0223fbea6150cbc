// Links come and go: A — softnet — B and C (xdp-drv on veths). B's link loses carrier
// (its peer goes down), comes back, and its device is deleted and re-created under the running
// stack: softnet logs each change, shows the state, answers A with ICMP unreachable instead of
// sending into the dead port, keeps forwarding A↔C, and re-attaches by itself.
// Every step waits for a condition with a generous deadline; nothing waits a guessed delay.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatStats } from '../../src/cli/stat.ts';
import { Stack } from '../../src/stack/stack.ts';
import { nsExec } from '../../src/tools/lab.ts';
import { expectStopped } from '../support/lab-stack.ts';
import { hasXdp, ip, Lab, run } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';

const DEADLINE = 20_000;
const lab = new Lab();
let stack: Stack | null = null;
const logs: string[] = [];
let A = '';
let B = '';
let C = '';

/** Router end `rDev` (root ns, softnet's port) and host end `hDev` in `ns` at 10.6k.0.2/24, default via 10.6k.0.1. */
function side(rDev: string, ns: string, hDev: string, k: number): void {
  lab.routerLink({ dev: rDev, hostDev: hDev, hostNs: ns, net: `10.6${k}.0`, mac: `02:00:0a:3${k}:00:01`, hostMac: `02:00:0a:3${k}:00:02` });
}

/** One echo from ns to dst; the ping output (async: softnet runs on this event loop). */
async function ping1(ns: string, dst: string): Promise<{ ok: boolean; out: string }> {
  const r = await nsExec(ns, ['ping', '-n', '-c', '1', '-W', '1', dst], { timeoutMs: 10_000 });
  return { ok: r.code === 0 && / 0% packet loss/.test(r.stdout), out: r.stdout };
}

const reaches = (ns: string, dst: string) => async () => (await ping1(ns, dst)).ok;
const unreachable = (ns: string, dst: string) => async () => /From 10\.61\.0\.1 .*Destination (Host|Net) Unreachable/.test((await ping1(ns, dst)).out);
const logged = (line: string) => () => logs.some((l) => l.includes(line));
const state = (port: string) => stack!.stats().ports[port].state;

beforeAll(async () => {
  A = lab.netns('link-a');
  B = lab.netns('link-b');
  C = lab.netns('link-c');
  for (const ns of [A, B, C]) run(ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1');
  side('snlink-a0', A, 'snlink-a1', 1);
  side('snlink-b0', B, 'snlink-b1', 2);
  side('snlink-c0', C, 'snlink-c1', 3);
  stack = new Stack({ name: 'snlink', control: null, sysctl: { icmp_ratelimit: 0 }, log: (l) => logs.push(l) });
  await stack.addPort({ name: 'p0', dev: 'snlink-a0', mode: 'xdp-drv', addresses: ['10.61.0.1/24'] });
  await stack.addPort({ name: 'p1', dev: 'snlink-b0', mode: 'xdp-drv', addresses: ['10.62.0.1/24'] });
  await stack.addPort({ name: 'p2', dev: 'snlink-c0', mode: 'xdp-drv', addresses: ['10.63.0.1/24'] });
  await stack.start();
}, 60_000);

afterAll(async () => {
  try {
    if (stack !== null) await expectStopped(stack);
  } finally {
    expect(lab.cleanup()).toEqual([]);
  }
});

describe('links come and go under a running stack', () => {
  it('forwards A→B and A→C', async () => {
    await waitFor('A reaches B', reaches(A, '10.62.0.2'), DEADLINE);
    await waitFor('A reaches C', reaches(A, '10.63.0.2'), DEADLINE);
    expect(state('p1')).toBe('UP');
  });

  it("B's carrier lost: logged, shown, A gets ICMP unreachable, nothing sent into p1, A→C still forwarded", async () => {
    run(B, 'ip', 'link', 'set', 'snlink-b1', 'down');
    await waitFor('the link-down log line', logged('port p1 (snlink-b0): link down (carrier lost)'), DEADLINE);
    expect(state('p1')).toBe('LOWERLAYERDOWN');
    expect(formatStats(stack!.stats())).toMatch(/p1: snlink-b0 queue 0 xdp-drv state LOWERLAYERDOWN/);
    expect(stack!.route('show')).toMatch(/10\.62\.0\.0\/24 dev p1 .*linkdown/);
    const before = stack!.stats().ports.p1;
    await waitFor('A to get ICMP unreachable for B from softnet', unreachable(A, '10.62.0.2'), DEADLINE);
    await waitFor('A reaches C', reaches(A, '10.63.0.2'), DEADLINE);
    const after = stack!.stats().ports.p1;
    expect(after.stack_tx_packets).toBe(before.stack_tx_packets);
    expect(after.tx_kick_errors ?? 0).toBe(before.tx_kick_errors ?? 0);
    expect(stack!.stats().mib.Ip.InNoRoutes).toBeGreaterThan(0);
  });

  it('B back up: logged, routes used again, A reaches B', async () => {
    run(B, 'ip', 'link', 'set', 'snlink-b1', 'up');
    // B's kernel dropped its default route with the link (admin down flushes routes via it).
    run(B, 'ip', 'route', 'replace', 'default', 'via', '10.62.0.1');
    await waitFor('the link-up log line', logged('port p1 (snlink-b0): link up'), DEADLINE);
    expect(state('p1')).toBe('UP');
    expect(stack!.route('show')).not.toMatch(/linkdown/);
    await waitFor('A reaches B again', reaches(A, '10.62.0.2'), DEADLINE);
  });

  it("B's device deleted, then re-created with the same name: the port re-attaches and forwards", async () => {
    ip('link', 'del', 'snlink-b0');
    await waitFor('the device-deleted log line', logged('port p1 (snlink-b0): device deleted'), DEADLINE);
    expect(state('p1')).toBe('NOTPRESENT');
    // The socket is closed at once: its frames are back in the pool.
    expect(stack!.frames().lost).toBe(0);
    await waitFor('A to get ICMP unreachable for B', unreachable(A, '10.62.0.2'), DEADLINE);
    await waitFor('A reaches C', reaches(A, '10.63.0.2'), DEADLINE);
    side('snlink-b0', B, 'snlink-b1', 2);
    await waitFor('the re-attach log line', logged('port p1 (snlink-b0): re-attached'), DEADLINE);
    await waitFor('p1 UP', () => state('p1') === 'UP', DEADLINE);
    expect(hasXdp('snlink-b0')).toBe(true);
    await waitFor('A reaches B through the re-attached port', reaches(A, '10.62.0.2'), DEADLINE);
    await waitFor('A reaches C', reaches(A, '10.63.0.2'), DEADLINE);
    expect(stack!.napi.errors).toBe(0);
  });

  it("A's device, whose socket registered the shared UMEM, deleted and re-created: B↔C keep going, A re-attaches", async () => {
    ip('link', 'del', 'snlink-a0');
    await waitFor('the device-deleted log line for p0', logged('port p0 (snlink-a0): device deleted'), DEADLINE);
    expect(state('p0')).toBe('NOTPRESENT');
    await waitFor('B reaches C', reaches(B, '10.63.0.2'), DEADLINE);
    side('snlink-a0', A, 'snlink-a1', 1);
    await waitFor('the re-attach log line for p0', logged('port p0 (snlink-a0): re-attached'), DEADLINE);
    await waitFor('p0 UP', () => state('p0') === 'UP', DEADLINE);
    await waitFor('A reaches B', reaches(A, '10.62.0.2'), DEADLINE);
    await waitFor('C reaches A', reaches(C, '10.61.0.2'), DEADLINE);
    expect(stack!.frames().lost).toBe(0);
  });
});
