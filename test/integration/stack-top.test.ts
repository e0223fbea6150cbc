// softnet top and `softnet up --http`: a stack from a YAML config (p0 on host A's link, the UDP
// discard service on port 9) under a paced UDP flow from host A's kernel socket. `softnet top`
// shows the flow on every box of its path (driver, poll, eth-input, ip-rcv, ip-local-deliver,
// udp-rcv) at about the sent rate, as JSON and as plain lines; the live page loads in headless
// Debian chromium and its numbers move: samples arrive over the event stream and the boxes show
// the flow's rate.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../src/tools/lab.ts';
import { pacedUdpArgv } from '../../src/tools/udp-sender.ts';
import { pageSamples } from '../support/chromium.ts';
import { softnet, startUp, type UpChild } from '../support/cli.ts';
import { peerProcess, type PeerProcess } from '../support/kernel-peer.ts';
import { freshLab, labTeardown } from '../support/lab-stack.ts';

const LAB = 'top';
const dir = mkdtempSync(join(tmpdir(), `sn-${LAB}-`));
let lab: Lab;
let up: UpChild | null = null;
let flow: PeerProcess | null = null;
const RATE = 400;

beforeAll(async () => {
  lab = await freshLab(LAB);
  const cfg = join(dir, 'top.yaml');
  writeFileSync(
    cfg,
    `name: ${LAB}
ports:
  - {name: p0, dev: ${lab.a.dev}, mode: xdp-drv, addresses: [10.1.0.1/24]}
services:
  - {proto: udp, port: 9, kind: discard}
`,
  );
  up = await startUp(['--config', cfg, '--http', '127.0.0.1:0']);
  // Until stopped in afterAll: a flow the samples below see whenever they are taken.
  flow = peerProcess(lab.a.host.ns, pacedUdpArgv({ dst: '10.1.0.1', port: 9, rate: RATE, seconds: 600, size: 32 }));
});

afterAll(async () => {
  try {
    flow?.stop();
    await flow?.exit;
    await up?.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await labTeardown(LAB);
  }
});

interface Node {
  pps: number;
  dropsPerSec: number;
  nsPerPacket: number;
}

describe('softnet top', () => {
  it('shows the flow on every box of its path at about the sent rate', { timeout: 60_000 }, async () => {
    const r = await softnet(['top', '--name', LAB, '--json', '--count', '3']);
    expect(r.code, r.stderr).toBe(0);
    const samples = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { nodes: Record<string, Node>; edges: Array<{ from: string; to: string; pps: number }>; squeezePerSec: number; ports: Array<{ fillHeld: number }> });
    expect(samples).toHaveLength(3);
    const v = samples[2];
    // 400/s sent; a loaded 2-core box samples late: broad bounds.
    for (const id of ['driver', 'poll', 'eth-input', 'ip-rcv', 'ip-local-deliver', 'udp-rcv', 'app']) {
      expect(v.nodes[id].pps, id).toBeGreaterThan(RATE * 0.5);
      expect(v.nodes[id].pps, id).toBeLessThan(RATE * 1.6);
    }
    expect(v.nodes['ip-forward'].pps).toBe(0);
    expect(v.nodes['udp-rcv'].dropsPerSec).toBe(0);
    expect(v.edges.find((e) => e.from === 'ip-rcv' && e.to === 'ip-local-deliver')!.pps).toBeGreaterThan(RATE * 0.5);
    expect(v.ports[0].fillHeld).toBeGreaterThan(0);

    const p = await softnet(['top', '--name', LAB, '--count', '1']);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/^\d\d:\d\d:\d\d {2}time_squeeze \S+\/s {3}UMEM frames free \d+\/\d+$/m);
    expect(p.stdout).toMatch(/^\d\d:\d\d:\d\d {2}udp_rcv \(socket\) +\S+\/s +drops 0\/s +\S+ ns\/packet$/m);
  });
});

describe('softnet up --http', () => {
  it('serves a page that loads in headless chromium and whose numbers move under traffic', { timeout: 120_000 }, async () => {
    const url = /live pipeline page: (http:\/\/\S+)/.exec(up!.out())?.[1];
    expect(url, up!.out()).toBeDefined();
    const expr = `({seq: Number(document.getElementById('seq').textContent), status: document.getElementById('status').textContent,
      udp: document.getElementById('pps-udp-rcv').textContent, driver: document.getElementById('pps-driver').textContent,
      edge: document.getElementById('t-ip-rcv--ip-local-deliver').textContent, scripts: document.querySelectorAll('script[src], link[href]').length})`;
    // SN_SCREENSHOT=FILE keeps a picture of the page (the README's).
    const s = await pageSamples<{ seq: number; status: string; udp: string; driver: string; edge: string; scripts: number }>(url!, expr, 4, 1000, undefined, process.env.SN_SCREENSHOT ?? '');
    console.log(s);
    expect(s[0].scripts).toBe(0); // self-contained: no external script or stylesheet
    expect(s.at(-1)!.status).toBe('live');
    // New samples arrived while we watched, and they carry the flow.
    expect(s.at(-1)!.seq).toBeGreaterThanOrEqual(s[0].seq + 2);
    const rate = (t: string) => {
      const m = /^([\d.]+)(k?) pkt\/s$/.exec(t);
      return m ? Number(m[1]) * (m[2] ? 1000 : 1) : NaN;
    };
    expect(rate(s.at(-1)!.udp)).toBeGreaterThan(RATE * 0.5);
    expect(rate(s.at(-1)!.driver)).toBeGreaterThan(RATE * 0.5);
    expect(Number(s.at(-1)!.edge.replace('k', 'e3'))).toBeGreaterThan(RATE * 0.5);
    // And the JSON behind it.
    const api = (await (await fetch(new URL('api/top', url))).json()) as { name: string; nodes: Record<string, Node> };
    expect(api.name).toBe(LAB);
    expect(api.nodes['udp-rcv'].pps).toBeGreaterThan(RATE * 0.5);
  });
});
