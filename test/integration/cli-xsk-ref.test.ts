// The C AF_XDP reference the benchmark compares softnet with: it builds, and it counts and
// forwards what a kernel peer sends (so a benchmark ratio compares two working receivers).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCRef } from '../../src/bench/cref.ts';
import { xdpXmit } from '../../src/bench/labrun.ts';
import { lastJson, Proc } from '../../src/bench/proc.ts';
import { devStats, labDown, labUp, nsExec, type Lab } from '../../src/tools/lab.ts';
import { waitFor } from '../support/wait.ts';

const LAB = 'xskref';
const N = 50_000;
let lab: Lab;
let bin: string;

const FLOOD = `
import socket, sys, time
n = int(sys.argv[1]); s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); sent = 0
while sent < n:
    k = min(200, n - sent)
    for _ in range(k): s.sendto(b'x' * 18, (sys.argv[2], 9))
    sent += k; time.sleep(0.0005)
`;

/** After the sender finished: a whole second in which xsk_ref received nothing (all consumed). */
async function idleSecond(p: Proc): Promise<void> {
  // xsk_ref prints its rate every second, also when idle; Proc parses those lines.
  const seen = () => p.rates.map((r) => r.pps);
  const n0 = seen().length;
  await waitFor('a second with 0 pps after the flood', () => seen().slice(n0 + 1).includes(0), { detail: () => JSON.stringify(seen().slice(n0)) });
}

beforeAll(async () => {
  bin = buildCRef();
  await labDown(LAB);
  lab = await labUp({ name: LAB, staticArp: true });
});
afterAll(async () => {
  await labDown(LAB);
});

describe('bench/c/xsk_ref', () => {
  for (const attach of ['-N', '-S']) {
    it(`rxdrop (${attach === '-N' ? 'drv' : 'skb'}) counts every frame from host A`, async () => {
      const p = new Proc('xsk_ref rxdrop', null, null, [bin, 'rxdrop', '-i', lab.a.dev, attach]);
      try {
        await p.waitFor(/^xsk_ref rxdrop on/, 10_000);
        await nsExec(lab.a.host.ns, ['python3', '-c', FLOOD, String(N), lab.b.host.ip], { check: true });
        await idleSecond(p);
      } finally {
        await p.stop(5000);
      }
      const j = p.lastJson<{ packets: number; attach: string; cpuSeconds: number }>();
      expect(j, p.tail()).not.toBeNull();
      expect(j!.attach).toBe(attach === '-N' ? 'xdp-drv' : 'xdp-skb');
      expect(j!.packets).toBeGreaterThanOrEqual(N);
      expect(j!.packets).toBeLessThan(N + 100);
      expect(j!.cpuSeconds).toBeGreaterThan(0);
      // bpf_link: the program is gone with the process.
      expect((await nsExec(null, ['ip', '-d', 'link', 'show', 'dev', lab.a.dev])).stdout).not.toMatch(/prog\/xdp/);
    });
  }

  it('l2fwd returns every frame to host A', async () => {
    const p = new Proc('xsk_ref l2fwd', null, null, [bin, 'l2fwd', '-i', lab.a.dev]);
    let received = 0;
    try {
      await p.waitFor(/^xsk_ref l2fwd on/, 10_000);
      const before = await devStats(lab.a.host.ns, lab.a.host.dev);
      await nsExec(lab.a.host.ns, ['python3', '-c', FLOOD, String(N), lab.b.host.ip], { check: true });
      await idleSecond(p);
      await waitFor('host A to get >= 99% back', async () => (await devStats(lab.a.host.ns, lab.a.host.dev)).rx_packets - before.rx_packets >= 0.99 * N);
      await p.stop(5000);
      received = (await devStats(lab.a.host.ns, lab.a.host.dev)).rx_packets - before.rx_packets;
    } finally {
      await p.stop(5000);
    }
    expect(p.lastJson<{ tx: number }>()?.tx, p.tail()).toBeGreaterThanOrEqual(N);
    expect(received).toBeGreaterThanOrEqual(0.99 * N);
  });

  it('gen sends the requested count (XDP live frames): each frame taken by the peer veth and counted there, or refused and counted by the sender', async () => {
    // The sending veth counts each frame it put on the peer's ring (xdp_xmit) or refused for a
    // full ring (xdp_xmit_errors: the peer's NAPI behind on a loaded box).
    const xmit = () => xdpXmit(lab.a.host.ns, lab.a.host.dev);
    const before = await devStats(null, lab.a.dev);
    const x0 = await xmit();
    const r = await nsExec(lab.a.host.ns, [bin, 'gen', '-i', lab.a.host.dev, '-n', '30000', '-s', '60'], { check: true });
    expect(lastJson<{ packets: number }>(r.stdout)?.packets).toBe(30000);
    const x1 = await xmit();
    const taken = x1.ok - x0.ok;
    expect(taken + x1.err - x0.err).toBe(30000);
    expect(taken).toBeGreaterThan(0);
    await waitFor(`the peer veth to count the ${taken} frames its ring took`, async () => (await devStats(null, lab.a.dev)).rx_packets - before.rx_packets >= taken);
    expect((await devStats(null, lab.a.dev)).rx_packets - before.rx_packets).toBe(taken);
  });

  it('unknown interface: clear error, exit 1', async () => {
    const r = await nsExec(null, [bin, 'rxdrop', '-i', 'snxskref-none']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no such interface');
  });
});
