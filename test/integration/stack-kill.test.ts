// Process death: `softnet up` on two veth ports and a TAP it creates, flooded, then SIGKILLed.
// The kernel must clean up after it (bpf_link: no XDP program left; a non-persistent TAP goes
// with its last fd), and a new `softnet up` on the same devices must start at once (a socket
// the kernel still tears down answers EBUSY: retried) and forward again.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSoftnet } from '../support/cli.ts';
import { hasXdp, ifStat, ip, Lab } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';

const A = 'snkill-a0';
const B = 'snkill-b0';
const TAP = 'snkill-t0';
const dir = mkdtempSync(join(tmpdir(), 'sn-kill-'));
const cfg = join(dir, 'kill.yaml');
const lab = new Lab();
let nsA = '';
let nsB = '';
const children: ChildProcess[] = [];

interface Up {
  c: ChildProcess;
  out: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startUp(): Up {
  const c = spawnSoftnet(['up', '--config', cfg]);
  children.push(c);
  let out = '';
  c.stdout!.on('data', (d) => (out += d));
  c.stderr!.on('data', (d) => (out += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => c.on('exit', (code, signal) => res({ code, signal })));
  return { c, out: () => out, exit };
}

function linkExists(dev: string): boolean {
  return spawnSync('ip', ['link', 'show', 'dev', dev], { stdio: 'ignore' }).status === 0;
}

/** One ping from A to B through softnet; true if answered. */
function pingOnce(): boolean {
  return spawnSync('ip', ['netns', 'exec', nsA, 'ping', '-c', '1', '-W', '1', '10.2.0.2'], { stdio: 'ignore' }).status === 0;
}

beforeAll(() => {
  nsA = lab.netns('kill-a');
  nsB = lab.netns('kill-b');
  lab.veth(A, 'snkill-a1', nsA, '10.1.0.1', '10.1.0.2');
  lab.veth(B, 'snkill-b1', nsB, '10.2.0.1', '10.2.0.2');
  ip('-n', nsA, 'route', 'add', 'default', 'via', '10.1.0.1');
  ip('-n', nsB, 'route', 'add', 'default', 'via', '10.2.0.1');
  // softnet creates the TAP; tracked so cleanup removes it if a failure leaves it behind.
  lab.track(TAP);
  writeFileSync(
    cfg,
    `name: kill
control: ${join(dir, 'kill.sock')}
ports:
  - {name: p0, dev: ${A}, mode: xdp-drv, addresses: [10.1.0.1/24]}
  - {name: p1, dev: ${B}, mode: xdp-drv, addresses: [10.2.0.1/24]}
  - {name: p2, dev: ${TAP}, mode: tap, addresses: [10.3.0.1/24]}
`,
  );
});

afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL'); // by PID: only processes this test started
      await new Promise((r) => c.once('exit', r));
    }
  }
  const left = lab.cleanup();
  rmSync(dir, { recursive: true, force: true });
  expect(left).toEqual([]);
});

describe('SIGKILL of softnet up mid-flood', () => {
  it('leaves no XDP program and no TAP; a new softnet up on the same devices starts at once and forwards', async () => {
    const first = startUp();
    await waitFor('softnet up to be ready', () => first.out().includes('ready'), { detail: first.out });
    expect(hasXdp(A)).toBe(true);
    expect(hasXdp(B)).toBe(true);
    expect(linkExists(TAP)).toBe(true);
    await waitFor('a ping from A to B through softnet', () => pingOnce(), { detail: first.out });

    // A flood that runs until we stop it (by its PID).
    const flood = spawn('ip', ['netns', 'exec', nsA, 'ping', '-f', '-q', '-s', '200', '10.2.0.2'], { stdio: 'ignore' });
    children.push(flood);
    const rx0 = ifStat(nsB, 'snkill-b1', 'rx_packets');
    // Mid-flood: softnet is forwarding it (B's end has received a good part of it).
    await waitFor('the flood to flow through softnet', () => ifStat(nsB, 'snkill-b1', 'rx_packets') - rx0 > 2000);

    const tKill = Date.now();
    first.c.kill('SIGKILL');
    expect((await first.exit).signal).toBe('SIGKILL');
    // The kernel releases the bpf_links and the TAP when the last fd goes (asynchronously).
    await waitFor('no XDP program on the veths', () => !hasXdp(A) && !hasXdp(B));
    await waitFor(`the TAP ${TAP} to be gone`, () => !linkExists(TAP));
    const tClean = Date.now();

    // The flood keeps running while the new one starts: the restart happens under load.
    const second = startUp();
    await waitFor('the new softnet up to be ready', () => second.out().includes('ready') || second.c.exitCode !== null, { detail: second.out });
    expect(second.c.exitCode, second.out()).toBe(null);
    console.log(`SIGKILL -> XDP and TAP gone: ${tClean - tKill} ms; restart -> ready: ${Date.now() - tClean} ms`);
    expect(second.out()).not.toMatch(/error|failed/i);
    expect(hasXdp(A)).toBe(true);
    expect(linkExists(TAP)).toBe(true);
    const rx1 = ifStat(nsB, 'snkill-b1', 'rx_packets');
    await waitFor('the flood to flow through the new softnet', () => ifStat(nsB, 'snkill-b1', 'rx_packets') - rx1 > 2000, { detail: second.out });
    flood.kill('SIGINT');
    await new Promise((r) => flood.once('exit', r));
    await waitFor('a ping from A to B through the new softnet', () => pingOnce(), { detail: second.out });

    second.c.kill('SIGTERM');
    expect((await second.exit).code, second.out()).toBe(0);
    expect(second.out()).toMatch(/all frames accounted for/);
    await waitFor('no XDP program after SIGTERM', () => !hasXdp(A) && !hasXdp(B));
    await waitFor('the TAP gone after SIGTERM', () => !linkExists(TAP));
  }, 60_000);
});
