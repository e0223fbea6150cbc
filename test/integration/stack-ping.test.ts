// End to end: a kernel host in a namespace ARPs for and pings a softnet stack on a veth (xdp-drv),
// captures read back in tcpdump, VLAN sub-interfaces, malformed ARP/ICMP counted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack } from '../../src/stack/stack.ts';
import { nsExec, type Lab } from '../../src/tools/lab.ts';
import { spawnSoftnet } from '../support/cli.ts';
import { ARP_HLN, ARP_HRD, ARP_OP, ARP_PLN, ARPOP_REQUEST } from '../../src/wire/arp.ts';
import { ETH_HLEN } from '../../src/wire/ethernet.ts';
import { buildFrame, type FrameSpec } from '../../src/wire/frame.ts';
import { ICMP_CHECKSUM, ICMP_ECHO } from '../../src/wire/icmp.ts';
import { IPPROTO_ICMP, IPV4_HLEN } from '../../src/wire/ipv4.ts';
import { patched } from '../support/frames.ts';
import { inject, expectReplies, pingSummary, tcpdump } from '../support/kernel-peer.ts';
import { freshLab, labTeardown } from '../support/lab-stack.ts';
import { hasXdp } from '../support/netns.ts';
import { dropsSince } from '../support/stats.ts';
import { waitFor } from '../support/wait.ts';

const LAB = 'ping';
const dir = mkdtempSync(join(tmpdir(), `sn-${LAB}-`));
// The stack's name carries the softnet prefix too (its socket is in /run/softnet, shared with a
// person's stacks); its default path, so the CLI is reached with --name like a person would.
const STACK = `sn${LAB}`;
const control = `/run/softnet/${STACK}.sock`;
let lab: Lab;
let stack: Stack;
let A: string; // host A namespace
let A1: string; // host A's veth

beforeAll(async () => {
  lab = await freshLab(LAB);
  A = lab.a.host.ns;
  A1 = lab.a.host.dev;
  stack = new Stack({ name: STACK, control });
  await stack.addPort({ name: 'p0', dev: lab.a.dev, mode: 'xdp-drv', addresses: ['10.1.0.1/24'], vlans: [{ id: 100, addresses: ['10.100.0.1/24'] }] });
  await stack.start();
});

afterAll(async () => {
  try {
    await labTeardown(LAB, stack);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('softnet answers a kernel peer (xdp-drv)', () => {
  it('ping -c 1000 -i 0.002 with payloads 0, 56, 1000, 1472: every request answered, nothing dropped', { timeout: 120_000 }, async () => {
    expect(hasXdp(lab.a.dev)).toBe(true);
    const drops0 = stack.stats().drops;
    const reps0 = stack.stats().mib.Icmp.OutEchoReps;
    // -c with -w: ping waits (up to the deadline) for 1000 replies, sending again for any frame
    // the kernel or veth lost under load; softnet itself must drop nothing (checked below).
    const runs = await Promise.all(
      [0, 56, 1000, 1472].map((size) => nsExec(A, ['ping', '-q', '-c', '1000', '-i', '0.002', '-w', '60', '-s', String(size), '10.1.0.1'], { timeoutMs: 90_000 })),
    );
    for (const r of runs) expectReplies(r.stdout, 1000);
    expect(stack.stats().mib.Icmp.OutEchoReps - reps0).toBeGreaterThanOrEqual(4000);
    expect(dropsSince(drops0, stack.stats().drops)).toEqual({});
    console.log(`ping x4: sent ${runs.map((r) => pingSummary(r.stdout).tx).join('/')} for 1000 replies each`);
    expect(stack.frames().lost).toBe(0);
  });

  it('arping gets replies and the peer neighbour entry becomes REACHABLE', async () => {
    // -c with -w: arping waits for 3 replies (or the deadline), resending if one is lost.
    const r = await nsExec(A, ['arping', '-c', '3', '-w', '20', '-I', A1, '10.1.0.1']);
    expect(r.stdout).toMatch(/Received 3 response/);
    expect(r.stdout.toLowerCase()).toContain(lab.a.mac.toLowerCase());
    // The kernel's own entry: resolved by its ARP, confirmed by the ping traffic.
    await nsExec(A, ['ping', '-c', '1', '-w', '20', '10.1.0.1']);
    await waitFor("A's neighbour entry for softnet to be REACHABLE", async () => /REACHABLE/.test((await nsExec(A, ['ip', 'neigh', 'show', '10.1.0.1', 'dev', A1])).stdout));
    expect(stack.neigh()).toMatch(/10\.1\.0\.2 dev p0 lladdr 02:00:0a:01:00:02/);
  });

  it('a capture taken during a ping reads back in tcpdump with the same count', async () => {
    const file = join(dir, 'ping.pcap');
    const cap = spawnSoftnet(['capture', '--name', STACK, '--write', file]);
    let err = '';
    cap.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number>((res) => cap.on('exit', (c) => res(c ?? -1)));
    let sent = 0;
    try {
      await waitFor('the capture tap', () => stack.taps.count > 0);
      const r = await nsExec(A, ['ping', '-q', '-c', '200', '-i', '0.002', '-w', '30', '10.1.0.1']);
      expectReplies(r.stdout, 200);
      sent = pingSummary(r.stdout).tx;
      // No wait before Ctrl-C: the client ends its side and the stack still sends what it tapped
      // before, then the count (see stack.test.ts, "Ctrl-C").
    } finally {
      cap.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    const captured = Number(/(\d+) packets captured/.exec(err)?.[1] ?? -1);
    expect(captured).toBeGreaterThanOrEqual(200);
    const all = await nsExec(null, ['tcpdump', '-nn', '-r', file], { check: true });
    expect(all.stdout.trim().split('\n').length).toBe(captured);
    const echo = await nsExec(null, ['tcpdump', '-nn', '-r', file, 'icmp[icmptype] == icmp-echo'], { check: true });
    // Every request softnet answered was captured; at most what ping sent (a resent one lost
    // before softnet is in neither).
    const echoes = echo.stdout.trim().split('\n').length;
    expect(echoes).toBeGreaterThanOrEqual(200);
    expect(echoes).toBeLessThanOrEqual(sent);
  });

  it('capture --dev --count stops by itself after K frames', async () => {
    const file = join(dir, 'count.pcap');
    const cap = spawnSoftnet(['capture', '--name', STACK, '--dev', 'p0', '--count', '10', '--write', file]);
    let err = '';
    cap.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number>((res) => cap.on('exit', (c) => res(c ?? -1)));
    try {
      await waitFor('the capture tap', () => stack.taps.count > 0);
      const ping = nsExec(A, ['ping', '-q', '-c', '30', '-i', '0.01', '-w', '30', '10.1.0.1']);
      await waitFor('capture --count 10 to stop by itself', () => cap.exitCode !== null || cap.signalCode !== null);
      await ping;
    } finally {
      // Only if it did not stop by itself (a failure): never leave it running.
      if (cap.exitCode === null && cap.signalCode === null) cap.kill('SIGKILL');
    }
    expect(await exited).toBe(0);
    expect(err).toMatch(/^10 packets captured/m);
    const all = await nsExec(null, ['tcpdump', '-nn', '-r', file], { check: true });
    expect(all.stdout.trim().split('\n').length).toBe(10);
    await waitFor('the tap to be removed', () => stack.taps.count === 0);
  });

  it('a VLAN-tagged ping reaches the VLAN sub-interface', async () => {
    // This kernel has no 802.1Q module (CONFIG_VLAN_8021Q unset), so the host side speaks VLAN
    // through a packet socket: tagged ARP + echo requests out, tcpdump -e sees tagged replies.
    const me = lab.a.mac;
    const peer = lab.a.host.mac;
    const tagged = (s: FrameSpec) => buildFrame({ dstMac: me, srcMac: peer, vlan: 100, ...s });
    const dump = await tcpdump(A, ['-i', A1, '-Q', 'in', '-e', '-nn', '-c', '6', 'vlan 100']);
    try {
      const frames = [tagged({ arp: { op: ARPOP_REQUEST, spa: '10.100.0.2', tpa: '10.100.0.1' } })];
      for (let k = 0; k < 5; k++) frames.push(tagged({ ip: { src: '10.100.0.2', dst: '10.100.0.1', id: 100 + k, df: true }, icmp: { type: ICMP_ECHO, rest: 0x77770001 }, payload: 56 }));
      await inject(A, A1, frames.slice(0, 1));
      // The ARP first, so softnet knows the sender before the echo requests need an answer.
      await waitFor('softnet to learn 10.100.0.2 on p0.100', () => /10\.100\.0\.2 dev p0\.100/.test(stack.neigh()));
      await inject(A, A1, frames.slice(1));
      await waitFor('tcpdump to see the ARP reply and 5 tagged echo replies', () => !dump.running(), { detail: () => dump.out() });
    } finally {
      dump.stop();
    }
    const out = dump.out();
    const replies = out.split('\n').filter((l) => /vlan 100/.test(l) && /10\.100\.0\.1 > 10\.100\.0\.2: ICMP echo reply/.test(l));
    expect(replies.length).toBe(5);
    expect(out).toMatch(/vlan 100.*Reply 10\.100\.0\.1 is-at/);
    expect(stack.neigh()).toMatch(/10\.100\.0\.2 dev p0\.100/);
    expect(stack.stats().ports['p0.100'].stack_tx_packets).toBeGreaterThanOrEqual(6);
  });

  it('malformed ARP and ICMP frames are dropped with counters; ping keeps working', async () => {
    const me = lab.a.mac;
    const peer = lab.a.host.mac;
    const frame = (s: FrameSpec) => buildFrame({ dstMac: me, srcMac: peer, ...s });
    const req = frame({ arp: { op: ARPOP_REQUEST, spa: '10.1.0.2', tpa: '10.1.0.1' } });
    const ip = { src: '10.1.0.2', dst: '10.1.0.1', df: true };
    const echo = frame({ ip, icmp: { type: ICMP_ECHO, rest: 0x77770001 }, payload: 32 });
    const icmpCheck = ETH_HLEN + IPV4_HLEN + ICMP_CHECKSUM;
    const before = stack.stats().drops;
    const frames = [
      req.slice(0, ETH_HLEN + 10), // truncated ARP
      patched(req, ETH_HLEN + ARP_HLN, 8), // wrong hardware length
      patched(req, ETH_HLEN + ARP_PLN, 6), // wrong protocol length
      patched(req, ETH_HLEN + ARP_HRD, 99, 2), // unknown hardware type
      patched(req, ETH_HLEN + ARP_OP, 9, 2), // unknown opcode
      patched(echo, icmpCheck, echo[icmpCheck] ^ 0x11), // bad ICMP checksum
      frame({ ip: { ...ip, proto: IPPROTO_ICMP }, payload: [ICMP_ECHO, 0, 0] }), // ICMP header truncated
    ];
    const reps = 3;
    const list: Uint8Array[] = [];
    for (let k = 0; k < reps; k++) list.push(...frames);
    const processed = stack.stats().softnet[0].processed;
    expect(await inject(A, A1, list)).toBe(list.length);
    await waitFor('the injected frames to be processed', () => stack.stats().softnet[0].processed >= processed + list.length);
    const after = stack.stats().drops;
    const d = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
    expect(d('arp.truncated')).toBe(reps);
    expect(d('arp.bad_hln')).toBe(reps);
    expect(d('arp.bad_pln')).toBe(reps);
    expect(d('arp.bad_hrd')).toBe(reps);
    expect(d('arp.bad_op')).toBe(reps);
    expect(d('icmp.InCsumErrors')).toBe(reps);
    expect(d('icmp.InErrors')).toBe(reps);
    const r = await nsExec(A, ['ping', '-c', '5', '-i', '0.01', '-w', '20', '10.1.0.1']);
    expectReplies(r.stdout, 5);
    expect(stack.frames().lost).toBe(0);
  });
});
