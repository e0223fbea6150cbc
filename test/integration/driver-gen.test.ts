// The generator: live-frame XDP test runs out of a veth whose peer (GRO on, in a namespace)
// counts what arrives; the AF_XDP TX fallback; the event loop stays responsive meanwhile.
import { afterAll, beforeAll, expect, it } from 'vitest';
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

it('xdp-live: 100k frames all arrive', async () => {
  const before = rx();
  const r = await generate({ dev: 'sngen-a', count: 100_000, frame });
  expect(r.method).toBe('xdp-live');
  expect(r.packets).toBe(100_000);
  // The peer's NAPI counts them after generate() returns: wait for the count, not a delay.
  await waitFor('the peer to count 100k frames', () => rx() - before >= 100_000, { detail: () => `${rx() - before}` });
  expect(hasXdp('sngen-a')).toBe(false);
});

it('xdp-live for a duration keeps the event loop responsive', async () => {
  const before = rx();
  let ticks = 0;
  const t = setInterval(() => ticks++, 10);
  const r = await generate({ dev: 'sngen-a', durationSec: 1, frame });
  clearInterval(t);
  expect(r.seconds).toBeGreaterThanOrEqual(0.99);
  expect(r.packets).toBeGreaterThan(10_000);
  // A blocked loop would tick once at most; >= 10 of ~100 possible leaves room for a loaded
  // machine while still telling a responsive loop from a blocked one.
  expect(ticks).toBeGreaterThanOrEqual(10);
  await waitFor(`the peer to count the ${r.packets} frames sent`, () => rx() - before >= r.packets, { detail: () => `${rx() - before}` });
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
