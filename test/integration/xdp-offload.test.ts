// `softnet up` with an XDP filter compiled to eBPF and linked on the port's device (xdp: {module,
// offload: kernel}), kernel hosts as peers: what the filter drops never reaches softnet (its
// AF_XDP socket's rx counters stay still), what it passes is forwarded to host B, `softnet stat`
// shows the kernel's per-verdict counters; the program is gone when the process ends, on SIGTERM
// and on SIGKILL (bpf_link: nothing outlives the process).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nsExec, type Lab } from '../../src/tools/lab.ts';
import { softnetSync, spawnSoftnet } from '../support/cli.ts';
import { udpBlast } from '../support/kernel-peer.ts';
import { freshLab, labTeardown } from '../support/lab-stack.ts';
import { hasXdp } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';

const LAB = 'xo';
const dir = mkdtempSync(join(tmpdir(), `sn-${LAB}-`));
const control = join(dir, 'r1.sock');
const cfg = join(dir, 'r1.yaml');
let lab: Lab;
let up: ChildProcess | null = null;
let upOut = '';
let upExit: Promise<number>;

function start(): void {
  upOut = '';
  up = spawnSoftnet(['up', '--config', cfg]);
  up.stdout!.on('data', (d) => (upOut += d));
  up.stderr!.on('data', (d) => (upOut += d));
  const p = up;
  upExit = new Promise((res) => p.on('exit', (c, sig) => res(c ?? (sig ? 128 : -1))));
}

const stat = () => JSON.parse(softnetSync('stat', '--control', control, '--json').stdout);
/** UDP datagrams host B's kernel took in (to a socket or not: no listener counts NoPorts). */
async function udpAtB(): Promise<number> {
  const r = await nsExec(lab.b.host.ns, ['cat', '/proc/net/snmp']);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0].split(/\s+/);
  const vals = lines[1].split(/\s+/).map(Number);
  return vals[names.indexOf('InDatagrams')] + vals[names.indexOf('NoPorts')];
}

beforeAll(async () => {
  lab = await freshLab(LAB);
  // The blocklist's defaults block 19, 1900, 11211.
  writeFileSync(
    cfg,
    `name: ${LAB}
control: ${control}
ports:
  - {name: p0, dev: ${lab.a.dev}, mode: xdp-drv, addresses: [10.1.0.1/24], xdp: {module: ./filters/blocklist.ts, offload: kernel}}
  - {name: p1, dev: ${lab.b.dev}, mode: xdp-drv, addresses: [10.2.0.1/24]}
`,
  );
  start();
  await waitFor('softnet up to be ready', () => upOut.includes('ready'), 20_000);
});

afterAll(async () => {
  try {
    if (up && up.exitCode === null && up.signalCode === null) {
      up.kill('SIGKILL');
      await upExit;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await labTeardown(LAB);
  }
});

describe('softnet up with a filter offloaded to the kernel', () => {
  it('the compiled program runs on the device in place of the redirect program', () => {
    expect(hasXdp(lab.a.dev)).toBe(true);
    expect(upOut).not.toMatch(/runs in JS/);
    expect(stat().ports.p0.xdp_offload).toBe('kernel');
  });

  it('passed traffic is forwarded; dropped traffic never reaches softnet', async () => {
    // Resolve ARP both ways first, so the counts below are only the datagrams.
    await udpBlast(lab.a.host.ns, lab.b.host.ip, 9999, 1);
    await waitFor('the first datagrams at B', async () => (await udpAtB()) >= 1, 20_000);
    const b0 = await udpAtB();
    const s0 = stat();
    await udpBlast(lab.a.host.ns, lab.b.host.ip, 11211, 300);
    await waitFor('the kernel program to drop 300', () => stat().ports.p0.xdp_drop >= 300, 20_000);
    const s1 = stat();
    expect(s1.ports.p0.xdp_drop - s0.ports.p0.xdp_drop).toBe(300);
    // Not one of them crossed into user space: the socket's rx count did not move.
    expect(s1.ports.p0.rx_packets - s0.ports.p0.rx_packets).toBeLessThanOrEqual(2);
    expect(await udpAtB()).toBe(b0);

    await udpBlast(lab.a.host.ns, lab.b.host.ip, 9999, 300);
    await waitFor('300 forwarded datagrams at B', async () => (await udpAtB()) >= b0 + 300, 20_000);
    const s2 = stat();
    expect(s2.ports.p0.xdp_pass - s1.ports.p0.xdp_pass).toBeGreaterThanOrEqual(300);
    expect(s2.ports.p0.rx_packets - s1.ports.p0.rx_packets).toBeGreaterThanOrEqual(300);
    expect(s2.ports.p0.xdp_aborted).toBe(0);
  });

  it('softnet stat prints the per-verdict counters', () => {
    const r = softnetSync('stat', '--control', control);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/xdp_drop: [1-9]\d*/);
    expect(r.stdout).toMatch(/xdp_offload: kernel/);
  });

  it('the program is gone when the process ends: SIGTERM, then SIGKILL', async () => {
    up!.kill('SIGTERM');
    expect(await upExit).toBe(0);
    expect(hasXdp(lab.a.dev)).toBe(false);
    start();
    await waitFor('softnet up to be ready again', () => upOut.includes('ready'), 20_000);
    expect(hasXdp(lab.a.dev)).toBe(true);
    up!.kill('SIGKILL');
    await upExit;
    await waitFor('the link to go with the process', () => !hasXdp(lab.a.dev) && !hasXdp(lab.b.dev), 10_000);
  });
});
