// The generator: live-frame XDP test runs out of a veth whose peer (GRO on, in a namespace)
// counts what arrives; the AF_XDP TX fallback; the event loop stays responsive meanwhile.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { xdpXmit } from '../../src/bench/labrun.ts';
import { buildUdpFrame, generate, native } from '../../src/driver/index.ts';
import { Lab, hasXdp, ifStat, ip, run } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';

const lab = new Lab();
let ns = '';
let frame: Uint8Array;

beforeAll(() => {
  ns = lab.netns('gen');
  const { peerMac, hostMac } = lab.veth('sngen-a', 'sngen-b', ns, '10.216.0.1', '10.216.0.2');
  // ndo_xdp_xmit into a veth needs NAPI on the peer (notes): GRO on gives it one.
  run(ns, 'ethtool', '-K', 'sngen-b', 'gro', 'on');
  frame = buildUdpFrame({ srcMac: hostMac, dstMac: peerMac, srcIp: '10.216.0.1', dstIp: '10.216.0.2', sport: 1000, dport: 9, size: 60 });
});
afterAll(() => expect(lab.cleanup()).toEqual([]));

const rx = () => ifStat(ns, 'sngen-b', 'rx_packets');
/**
 * XDP_TX out of sngen-a puts frames on sngen-b's ring (veth_xdp_xmit); a full ring (the peer's
 * NAPI behind, e.g. deferred to ksoftirqd on a loaded box) refuses them and counts each in
 * sngen-a's xdp_xmit_errors. Every frame sent is one or the other. Read with `ethtool -S`, not
 * through the addon's SIOCETHTOOL as generate() reads them, so the two readings check each other.
 */
const xmit = () => xdpXmit(null, 'sngen-a');
/** Sent frames all accounted for: taken by the veth (and then counted by the peer) or refused by it. */
async function accounted(what: string, sent: number, rx0: number, x0: { ok: number; err: number }): Promise<void> {
  let seen = { ok: 0, err: 0 };
  const taken = async () => {
    const x = await xmit();
    seen = { ok: x.ok - x0.ok, err: x.err - x0.err };
    return seen.ok + seen.err >= sent;
  };
  await waitFor(`the veth to take or refuse ${what}`, taken, { detail: () => JSON.stringify(seen) });
  expect(seen.ok + seen.err).toBeLessThan(sent + 100);
  const { ok } = seen;
  // The peer counts what its ring took (after generate() returns: wait for the count, not a
  // delay). Both counters can run a frame or two ahead of what generate() sent (seen: 2 more
  // than 786432), so >=.
  await waitFor(`the peer to count the ${ok} frames its ring took`, () => rx() - rx0 >= ok, { detail: () => `${rx() - rx0}` });
  // Frames did go through. How many the ring refused is not bounded here: that depends on when
  // the kernel runs the peer's NAPI (ksoftirqd, competing with everything else on a loaded box),
  // not on the generator; CI saw 7% once and 32% once. Each refusal is counted, checked above.
  expect(ok).toBeGreaterThan(0);
}

it('xdp-live: 100k frames, each one received or refused by the veth and counted', async () => {
  const before = rx();
  const x0 = await xmit();
  const r = await generate({ dev: 'sngen-a', count: 100_000, frame });
  expect(r.method).toBe('xdp-live');
  expect(r.packets).toBe(100_000);
  // generate() reads the same refusal counter (through SIOCETHTOOL) as ethtool -S does here.
  expect(r.refused).toBeGreaterThanOrEqual(0);
  await accounted('100k frames', 100_000, before, x0);
  expect(r.refused).toBeLessThanOrEqual((await xmit()).err - x0.err);
  expect(hasXdp('sngen-a')).toBe(false);
});

it('xdp-live for a duration keeps the event loop responsive', async () => {
  const before = rx();
  const x0 = await xmit();
  let ticks = 0;
  const t = setInterval(() => ticks++, 10);
  const r = await generate({ dev: 'sngen-a', durationSec: 1, frame });
  clearInterval(t);
  expect(r.seconds).toBeGreaterThanOrEqual(0.99);
  expect(r.packets).toBeGreaterThan(10_000);
  // A blocked loop would tick once at most; >= 10 of ~100 possible leaves room for a loaded
  // machine while still telling a responsive loop from a blocked one.
  expect(ticks).toBeGreaterThanOrEqual(10);
  await accounted(`the ${r.packets} frames sent`, r.packets, before, x0);
});

it('xdp-live into a veth whose peer has no NAPI: every frame reported refused', async () => {
  ip('link', 'add', 'sngen-na', 'type', 'veth', 'peer', 'name', 'sngen-nb');
  lab.track('sngen-na');
  ip('link', 'set', 'sngen-na', 'up');
  ip('link', 'set', 'sngen-nb', 'up'); // GRO off (a veth's default) and no XDP program: no NAPI
  const r = await generate({ dev: 'sngen-na', count: 1000, frame });
  expect(r.method).toBe('xdp-live');
  expect(r.packets).toBe(1000);
  expect(r.refused).toBe(1000);
});

it('xsk-tx fallback delivers the count', async () => {
  const before = rx();
  const r = await generate({ dev: 'sngen-a', count: 50_000, frame, method: 'xsk-tx' });
  expect(r.method).toBe('xsk-tx');
  expect(r.packets).toBe(50_000);
  await waitFor('the peer to count 50k frames', () => rx() - before >= 50_000, { detail: () => `${rx() - before}` });
  expect(native().xdpAttached()).toEqual([]);
});

it('unknown device: a clear error', async () => {
  await expect(generate({ dev: 'sngen-nosuch', count: 10, frame })).rejects.toThrow(/no such interface: sngen-nosuch/);
});

it('generated frames arrive byte-identical (received by an XskPort on the peer)', async () => {
  const { openPort } = await import('../../src/driver/index.ts');
  ip('link', 'add', 'sngen-xa', 'type', 'veth', 'peer', 'name', 'sngen-xb');
  lab.track('sngen-xa');
  ip('link', 'set', 'sngen-xa', 'up');
  ip('link', 'set', 'sngen-xb', 'up');
  const { port } = openPort({ dev: 'sngen-xb', mode: 'xdp-drv' });
  try {
    const f = buildUdpFrame({ srcMac: '02:00:00:00:00:0a', dstMac: port.mac, srcIp: '10.217.0.1', dstIp: '10.217.0.2', sport: 4242, dport: 4343, size: 99 });
    const r = await generate({ dev: 'sngen-xa', count: 1000, frame: f });
    expect(r.packets).toBe(1000);
    let same = 0;
    let all = 0;
    const drain = () => {
      let n: number;
      while ((n = port.rx(port.batchSize)) > 0) {
        for (let j = 0; j < n; j++) {
          const a = port.rxAddr[j];
          const got = port.umem.u8.subarray(a, a + port.rxLen[j]);
          all++;
          if (port.rxLen[j] === f.length && got.every((b, i) => b === f[i])) same++;
          got.fill(0xee, 0, 64); // a receiver that rewrites frames in place
          port.pool.free(a);
        }
      }
      return all >= 1000;
    };
    await waitFor('1000 generated frames on the peer port', drain, { everyMs: 5, detail: () => `${all} received, ${same} identical` });
    expect(same).toBe(1000);
  } finally {
    port.close();
    ip('link', 'del', 'sngen-xa');
  }
  expect(native().xdpAttached()).toEqual([]);
});
