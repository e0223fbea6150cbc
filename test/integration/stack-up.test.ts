// `softnet up` as a person runs it: a YAML config, foreground process, the control-socket
// commands (stat, stat --runtime, route, iptables), SIGTERM shutdown leaving nothing attached;
// and a bad config naming the path and the problem.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nsExec, type Lab } from '../../src/tools/lab.ts';
import { softnetSync, startUp, type UpChild } from '../support/cli.ts';
import { expectReplies } from '../support/kernel-peer.ts';
import { freshLab, labTeardown } from '../support/lab-stack.ts';
import { hasXdp } from '../support/netns.ts';

const LAB = 'up';
const dir = mkdtempSync(join(tmpdir(), `sn-${LAB}-`));
const control = join(dir, 'r1.sock');
let lab: Lab;
let up: UpChild | null = null;

beforeAll(async () => {
  lab = await freshLab(LAB);
  const cfg = join(dir, 'r1.yaml');
  writeFileSync(
    cfg,
    `name: ${LAB}
control: ${control}
ports:
  - {name: p0, dev: ${lab.a.dev}, mode: xdp-drv, addresses: [10.1.0.1/24], xdp: ./filters/blocklist.ts}
  - {name: p1, dev: ${lab.b.dev}, mode: xdp-drv, addresses: [10.2.0.1/24]}
routes:
  - 10.3.0.0/16 via 10.2.0.2
napi: {weight: 64, budget: 300}
`,
  );
  up = await startUp(['--config', cfg]);
});

afterAll(async () => {
  try {
    await up?.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await labTeardown(LAB);
  }
});

describe('softnet up', () => {
  it('prints the port report and answers ping', async () => {
    expect(up!.out()).toMatch(/p0: snup-a0 queue 0 xdp-drv mac 02:00:0a:01:00:01 10\.1\.0\.1\/24/);
    expect(up!.out()).toMatch(/xdp-drv: ok/);
    // -c with -w: ping waits for 50 replies (resending what a kernel or veth lost under load).
    const r = await nsExec(lab.a.host.ns, ['ping', '-q', '-c', '50', '-i', '0.005', '-w', '20', '10.1.0.1']);
    expectReplies(r.stdout, 50);
  });

  it('softnet stat prints softnet_stat, port counters, drops and the IP MIB', () => {
    const r = softnetSync('stat', '--control', control);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/softnet_stat \(per queue\)/);
    expect(r.stdout).toMatch(/p0\/0\s+\d+\s+0\s+\d+/);
    expect(r.stdout).toMatch(/rx_packets: \d+/);
    expect(r.stdout).toMatch(/Icmp:\n(.*\n)*\s+OutEchoReps: \d+/);
    const j = JSON.parse(softnetSync('stat', '--control', control, '--json').stdout);
    expect(j.mib.Icmp.OutEchoReps).toBeGreaterThanOrEqual(50);
    expect(j.softnet[0].processed).toBeGreaterThanOrEqual(50);
    expect(j.mib.Ip.InReceives).toBeGreaterThanOrEqual(50);
  });

  it('softnet stat --runtime prints the per-stage table', () => {
    const r = softnetSync('stat', '--control', control, '--runtime');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/stage\s+calls\s+packets\s+packets\/call\s+ns\/packet/);
    expect(r.stdout).toMatch(/eth-input\s+\d+\s+\d+/);
    expect(r.stdout).toMatch(/icmp-rcv\s+\d+/);
  });

  it('softnet route add/show/del over the control socket; errors name the word', () => {
    expect(softnetSync('route', '--control', control, 'add', '10.4.0.0/16', 'via', '10.2.0.2', 'metric', '5').code).toBe(0);
    const show = softnetSync('route', '--control', control, 'show').stdout;
    expect(show).toContain('10.3.0.0/16 via 10.2.0.2');
    expect(show).toContain('10.4.0.0/16 via 10.2.0.2 dev p1 metric 5');
    expect(show).not.toContain('local 10.1.0.1');
    expect(softnetSync('route', '--control', control, 'show', 'table', 'local').stdout).toContain('local 10.1.0.1 dev p0');
    expect(softnetSync('route', '--control', control, 'del', '10.4.0.0/16').code).toBe(0);
    expect(softnetSync('route', '--control', control, 'show').stdout).not.toContain('10.4.0.0/16');
    const bad = softnetSync('route', '--control', control, 'add', '10.5.0.0/16', 'via', 'nowhere');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('nowhere');
  });

  it('softnet iptables changes and lists rules; a malformed rule points at the word', () => {
    expect(softnetSync('iptables', '--control', control, '-A', 'INPUT', '-p', 'icmp', '--icmp-type', 'echo-request', '-j', 'ACCEPT').code).toBe(0);
    const l = softnetSync('iptables', '--control', control, '-L', 'INPUT', '-v', '-n');
    expect(l.code).toBe(0);
    expect(l.stdout).toMatch(/Chain INPUT \(policy ACCEPT/);
    expect(l.stdout).toMatch(/ACCEPT\s+icmp/);
    const bad = softnetSync('iptables', '--control', control, '-A', 'INPUT', '-p', 'udp', '--dportt', '53', '-j', 'DROP');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--dportt');
  });

  it('the XDP filter from the config runs: verdicts in stat', () => {
    const j = JSON.parse(softnetSync('stat', '--control', control, '--json').stdout);
    expect(j.ports.p0.xdp_pass).toBeGreaterThanOrEqual(50);
    expect(j.ports.p0.xdp_drop).toBe(0);
    expect(j.ports.p1.xdp_pass).toBeUndefined();
  });

  it('SIGTERM shuts down cleanly: exit 0, frames accounted for, no XDP, no socket', async () => {
    expect(await up!.stop()).toBe(0);
    expect(up!.out()).toMatch(/stopped \(all frames accounted for\)/);
    expect(hasXdp(lab.a.dev)).toBe(false);
    expect(hasXdp(lab.b.dev)).toBe(false);
    expect(existsSync(control)).toBe(false);
    const r = softnetSync('stat', '--control', control);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no softnet stack is running/);
  });
});

describe('softnet up with a bad config', () => {
  it('prints the path and the problem, exit 2, nothing attached', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, `name: bad\nports:\n  - {name: p0, dev: ${LAB}x, mode: turbo, mtu: 20}\n  - {name: p1, dev: x, colour: red}\n`);
    const r = softnetSync('up', '--config', bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ports[0].mode: expected one of auto | xdp-zc | xdp-drv | xdp-skb | tap | memory, got the string "turbo"');
    expect(r.stderr).toContain('ports[0].mtu: 20 is out of range 68..9000');
    expect(r.stderr).toMatch(/ports\[1\]\.colour: unknown key/);
    const missing = softnetSync('up', '--config', join(dir, 'nope.yaml'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read the file: ENOENT/);
  });

  it('a config naming a missing device fails with the device named, exit 1', () => {
    const cfg = join(dir, 'nodev.yaml');
    writeFileSync(cfg, `name: nodev\ncontrol: ${join(dir, 'n.sock')}\nports:\n  - {name: p0, dev: snup-none, mode: xdp-drv}\n`);
    const r = softnetSync('up', '--config', cfg);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/snup-none/);
    expect(r.stderr).toMatch(/ENODEV/);
  });
});
