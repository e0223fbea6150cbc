// A port whose fill ring the pool could not fill receives nothing, so it gets no interrupt and
// the poll loop never polls it again; the loop must retry its refill on its own (virtio_net's
// refill_work) once frames are back: released by a socket's reader, or left in the completion
// ring of a port that never sends or receives again. Memory ports with AF_XDP's rings.
import { afterEach, describe, expect, it } from 'vitest';
import type { Batch } from '../../src/core/batch.ts';
import { EthInput } from '../../src/core/eth-input.ts';
import { Graph, type Stage } from '../../src/core/graph.ts';
import { Napi } from '../../src/core/napi.ts';
import { NetDevices } from '../../src/core/netdev.ts';
import { PtypeTable } from '../../src/core/ptype.ts';
import { MemoryPort } from '../../src/driver/memory.ts';
import { FramePool } from '../../src/driver/pool.ts';
import { memoryUmem } from '../../src/driver/umem.ts';
import { MAC_A, udpFrame } from '../support/core-graph.ts';
import { waitFor } from '../support/wait.ts';

/** A socket nobody reads yet: keeps every frame it gets. */
class Hold implements Stage {
  readonly name = 'ip-rcv';
  readonly frames: number[] = [];
  count = 0;
  run(b: Batch, v: Uint16Array, n: number): void {
    for (let j = 0; j < n; j++) this.frames.push(b.addr[v[j]]);
    this.count += n;
  }
}

const FILL = 32;

/**
 * rx0 (a fill ring of FILL) and a port tx1 that never receives (a fill ring of `fill1`, none:
 * no rings), on a pool of exactly their fill rings plus `spare` frames.
 */
function setup(fill1: number, spare = 0) {
  const umem = memoryUmem(FILL + fill1 + spare);
  const pool = new FramePool(umem);
  const rx0 = new MemoryPort('rx0', umem, pool, 64, 4096, new Uint8Array(MAC_A)).withRings(FILL);
  const tx1 = new MemoryPort('tx1', umem, pool, 64, 4096, new Uint8Array([2, 0, 0, 0, 0, 0xb1]));
  if (fill1 > 0) tx1.withRings(fill1);
  tx1.sink = () => {};
  const devs = new NetDevices();
  const d0 = devs.addPort('rx0', rx0);
  const d1 = devs.addPort('tx1', tx1);
  const graph = new Graph(pool);
  const ptype = new PtypeTable();
  const hold = new Hold();
  graph.add(new EthInput(devs, ptype));
  graph.add(hold);
  ptype.add(0x0800, 'ip-rcv');
  const napi = new Napi(graph, devs);
  napi.add(d0);
  napi.add(d1);
  const account = () => pool.available + rx0.inFlight() + tx1.inFlight() + hold.frames.length;
  return { pool, rx0, tx1, hold, napi, account };
}

let stop: (() => void) | null = null;
afterEach(() => {
  stop?.();
  stop = null;
});

/** Fill rx0's whole fill ring into the held socket: its refill finds the pool empty. */
async function starve(s: ReturnType<typeof setup>) {
  s.napi.start();
  stop = () => s.napi.stop();
  for (let k = 0; k < FILL; k++) expect(s.rx0.inject(udpFrame(53))).toBe(true);
  await waitFor('rx0 to deliver its fill ring', () => s.hold.count === FILL);
  expect(s.pool.available).toBe(0);
  expect(s.rx0.stats()).toMatchObject({ fill_held: 0, fill_starved: 1 });
  expect(s.rx0.stats().rx_alloc_fail).toBeGreaterThanOrEqual(1);
  // The wire keeps sending: dropped for want of fill frames, and no interrupt.
  for (let k = 0; k < 10; k++) expect(s.rx0.inject(udpFrame(53))).toBe(false);
  expect(s.rx0.stats().rx_fill_ring_empty_descs).toBe(10);
  expect(s.account()).toBe(s.pool.total);
}

/** The wire sends until rx0 takes frames again; resolves when the socket has them. */
async function resumes(s: ReturnType<typeof setup>) {
  await waitFor('rx0 to refill its fill ring with no traffic anywhere', () => s.rx0.stats().fill_held >= 8, {
    detail: () => JSON.stringify(s.rx0.stats()),
  });
  for (let k = 0; k < 5; k++) expect(s.rx0.inject(udpFrame(53))).toBe(true);
  await waitFor('rx0 to receive again', () => s.hold.count === FILL + 5);
  expect(s.account()).toBe(s.pool.total);
}

describe('napi refill of starved ports', () => {
  it('retries a starved fill ring on a backing-off timer while idle, and resumes once the pool has frames', async () => {
    const s = setup(0);
    await starve(s);
    // Starved and idle: retries back off (1, 2, 4 .. 64 ms), no spin.
    // Four retries take at least 1 + 2 + 4 ms of backoff; a spinning retry would take microseconds.
    const r0 = s.napi.refillRetries;
    const t0 = performance.now();
    await waitFor('four refill retries', () => s.napi.refillRetries - r0 >= 4);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(7);
    expect(s.rx0.stats().fill_starved).toBe(1);
    // The application reads its socket: frames back to the pool, no port does anything.
    for (const a of s.hold.frames.splice(0)) s.pool.free(a);
    s.hold.count = FILL;
    await resumes(s);
    expect(s.rx0.stats().fill_starved).toBe(1);
  });

  it("reaps an idle port's completion ring to refill a starved one", async () => {
    const s = setup(FILL);
    await starve(s);
    // Forward everything the socket holds out of tx1, then tx1 goes quiet for good: the frames
    // wait in its completion ring (reaped only by its next rx/tx).
    const held = s.hold.frames.splice(0);
    for (let j = 0; j < held.length; j++) {
      s.tx1.txAddr[j] = held[j];
      s.tx1.txLen[j] = 60;
    }
    expect(s.tx1.tx(held.length)).toBe(held.length);
    expect(s.tx1.stats().tx_outstanding).toBe(FILL);
    expect(s.pool.available).toBe(0);
    await resumes(s);
    expect(s.tx1.stats().tx_outstanding).toBe(0);
  });

  it('costs nothing while no port is starved', async () => {
    const s = setup(FILL, 64);
    s.napi.start();
    stop = () => s.napi.stop();
    for (let k = 0; k < 8; k++) s.rx0.inject(udpFrame(53));
    await waitFor('delivery', () => s.hold.count === 8);
    for (const a of s.hold.frames.splice(0)) s.pool.free(a);
    // More turns of the loop after the frames came back: still no retry.
    for (let k = 0; k < 8; k++) s.rx0.inject(udpFrame(53));
    await waitFor('delivery after the frees', () => s.hold.count === 16);
    expect(s.napi.refillRetries).toBe(0);
    expect(s.rx0.stats()).toMatchObject({ fill_starved: 0, rx_alloc_fail: 0 });
  });
});
