// A stateful firewall on softnet with kernel hosts: A (10.1.0.2) — softnet (p0 10.1.0.1/24,
// p1 10.2.0.1/24) — B (10.2.0.2), no NAT. FORWARD drops by default, accepts ESTABLISHED and
// RELATED, and NEW only from A's side:
//   ping, UDP and curl from A to B work; ping and UDP from B to A (unsolicited) do not;
//   `softnet conntrack -L` shows the entries as conntrack-tools does, `-S` counts them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlPath } from '../../src/stack/control-socket.ts';
import { Stack } from '../../src/stack/stack.ts';
import { nsExec, type Lab as ToolLab } from '../../src/tools/lab.ts';
import { softnet } from '../support/cli.ts';
import { expectReplies, listening, peerProcess, pingSummary, udpAsk, udpEcho, type PeerProcess } from '../support/kernel-peer.ts';
import { freshLab, labTeardown } from '../support/lab-stack.ts';

const LAB = 'ct';
let lab: ToolLab;
let stack: Stack;
let A: string;
let B: string;
let www: string;
const procs: PeerProcess[] = [];

beforeAll(async () => {
  lab = await freshLab(LAB);
  A = lab.a.host.ns;
  B = lab.b.host.ns;
  www = mkdtempSync(join(tmpdir(), 'sn-ct-www-'));
  writeFileSync(join(www, 'big'), Buffer.alloc(1 << 20, 7));
  stack = new Stack({ name: LAB, control: controlPath({ name: LAB }) });
  await stack.addPort({ name: 'p0', dev: lab.a.dev, mode: 'xdp-drv', addresses: ['10.1.0.1/24'] });
  await stack.addPort({ name: 'p1', dev: lab.b.dev, mode: 'xdp-drv', addresses: ['10.2.0.1/24'] });
  for (const r of [
    '-P FORWARD DROP',
    '-A FORWARD -m conntrack --ctstate INVALID -j DROP',
    '-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
    '-A FORWARD -i p0 -o p1 -m conntrack --ctstate NEW -j ACCEPT',
  ])
    stack.iptables(r);
  await stack.start();
  procs.push(peerProcess(B, ['python3', '-m', 'http.server', '-b', '0.0.0.0', '-d', www, '8000']));
  await listening(B, 'tcp', 8000);
  for (const [ns, port] of [[B, 7000], [A, 7001]] as const) procs.push(await udpEcho(ns, port));
}, 60_000);

afterAll(async () => {
  for (const p of procs) p.stop();
  await Promise.all(procs.map((p) => p.exit));
  if (www) rmSync(www, { recursive: true, force: true });
  await labTeardown(LAB, stack);
});

describe('conntrack: a stateful FORWARD chain between kernel hosts', () => {
  it('A to B: ping, UDP and curl pass (NEW from A, replies ESTABLISHED)', async () => {
    expectReplies((await nsExec(A, ['ping', '-c', '3', '-i', '0.2', '-w', '20', '10.2.0.2'])).stdout, 3);
    expect((await udpAsk(A, '10.2.0.2', 7000, 'hello-ct')).reply).toBe('hello-ct');
    const c = await nsExec(A, ['curl', '-sS', '--max-time', '30', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', 'http://10.2.0.2:8000/big'], { timeoutMs: 60_000 });
    expect(c.stdout.trim(), c.stderr).toBe('200 1048576');
  }, 90_000);

  it('B to A unsolicited: ping and UDP are dropped', async () => {
    const before = stack.netfilter.counters('filter', 'FORWARD').pkts;
    const p = await nsExec(B, ['ping', '-c', '3', '-i', '0.2', '-w', '3', '10.1.0.2']);
    expect(pingSummary(p.stdout).rx).toBe(0);
    expect((await udpAsk(B, '10.1.0.2', 7001, 'unsolicited', 2)).reply).toBe('timeout');
    // Dropped by the policy (NEW from p1), counted there.
    expect(stack.netfilter.counters('filter', 'FORWARD').pkts).toBeGreaterThanOrEqual(before + 4);
  }, 60_000);

  it('softnet conntrack -L shows the entries; -S counts', async () => {
    const r = await softnet(['conntrack', '--name', LAB, '-L']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.some((l) => /^icmp {5}1 \d+ src=10\.1\.0\.2 dst=10\.2\.0\.2 type=8 code=0 id=\d+ src=10\.2\.0\.2 dst=10\.1\.0\.2 type=0 code=0 id=\d+ mark=0 use=1$/.test(l))).toBe(true);
    expect(lines.some((l) => /^udp {6}17 \d+ src=10\.1\.0\.2 dst=10\.2\.0\.2 sport=\d+ dport=7000 src=10\.2\.0\.2 dst=10\.1\.0\.2 sport=7000 dport=\d+ mark=0 use=1$/.test(l))).toBe(true);
    expect(lines.some((l) => /^tcp {6}6 \d+ (ESTABLISHED|FIN_WAIT|CLOSE_WAIT|LAST_ACK|TIME_WAIT|CLOSE) src=10\.1\.0\.2 dst=10\.2\.0\.2 sport=\d+ dport=8000 src=10\.2\.0\.2 dst=10\.1\.0\.2 sport=8000 dport=\d+ \[ASSURED\] mark=0 use=1$/.test(l))).toBe(true);
    // The unsolicited flows from B never got an entry.
    expect(r.stdout).not.toMatch(/src=10\.2\.0\.2 dst=10\.1\.0\.2 type=8/);
    expect(r.stderr).toMatch(/conntrack v1\.4\.7 \(conntrack-tools\): \d+ flow entries have been shown\./);
    const s = await softnet(['conntrack', '--name', LAB, '-S']);
    expect(s.stdout).toMatch(/^cpu=0 {3}\tfound=[1-9]\d* invalid=\d+ insert=[1-9]\d* insert_failed=0 drop=0 early_drop=0 /);
  }, 30_000);
});
