import { describe, expect, it } from 'vitest';
import type { Batch } from '../../src/core/batch.ts';
import { DevXmit } from '../../src/core/dev-xmit.ts';
import { Graph } from '../../src/core/graph.ts';
import { NetDevices } from '../../src/core/netdev.ts';
import { Taps } from '../../src/core/taps.ts';
import { MemoryPort } from '../../src/driver/memory.ts';
import { Batch as B, drops, udpFrame } from '../support/core-graph.ts';

/** A memory port that takes at most `room` frames per tx() call, like a full TX ring. */
class TightPort extends MemoryPort {
  room = 1 << 30;
  calls: number[] = [];
  override tx(n: number): number {
    this.calls.push(n);
    return super.tx(Math.min(n, this.room));
  }
}

function setup(batchSize = 256) {
  const [a] = MemoryPort.pair(1024);
  const port = new TightPort('tight0', a.umem, a.pool, batchSize);
  const devs = new NetDevices();
  devs.addPort('tight0', port);
  devs.addVlan('tight0', 5);
  const taps = new Taps();
  const g = new Graph(a.pool);
  const xmit = new DevXmit(devs, taps);
  g.add(xmit);
  g.seal();
  const b: Batch = new B(256);
  const fill = (n: number, oif = 0, l3 = 0) => {
    b.n = 0;
    for (let k = 0; k < n; k++) {
      const addr = a.pool.alloc();
      const f = udpFrame(k);
      a.umem.u8.set(f, addr);
      const i = b.push(addr, f.length, 0);
      b.oif[i] = oif;
      b.l3[i] = l3;
    }
  };
  return { port, pool: a.pool, devs, taps, g, xmit, b, fill };
}

describe('dev-xmit', () => {
  it('sends one tx() per port per dispatch; refused frames return to the pool as dev.tx_dropped', () => {
    const s = setup();
    s.port.room = 3;
    s.fill(10);
    s.g.dispatch(s.b, 0);
    expect(s.port.calls).toEqual([10]);
    expect(s.port.takeTx().length).toBe(3);
    expect(drops(s.g)).toEqual({ 'dev.tx_dropped': 7 });
    expect(s.xmit.txPackets[0]).toBe(10);
    expect(s.pool.available).toBe(s.pool.total);
  });

  it('flushes early when the port batch is full', () => {
    const s = setup(4);
    s.fill(10);
    s.g.dispatch(s.b, 0);
    expect(s.port.calls).toEqual([4, 4, 2]);
    expect(s.port.takeTx().length).toBe(10);
    expect(s.pool.available).toBe(s.pool.total);
  });

  it('drops bad egress devices and short frames as dev.tx_errors; tx taps see sent frames', () => {
    const s = setup();
    const seen: number[] = [];
    s.taps.add({ dev: -1, rx: false, tx: true, frame: (_u8, _a, len, dev) => seen.push(len, dev) });
    s.fill(3);
    s.b.oif[1] = 9; // no such device
    s.b.len[2] = 10; // shorter than an Ethernet header
    s.g.dispatch(s.b, 0);
    expect(drops(s.g)).toEqual({ 'dev.tx_errors': 2 });
    expect(seen).toEqual([60, 0]);
    // A VLAN sub-interface: tagged on the way out, the tap sees the tagged frame on the port.
    s.fill(1, 1, 14);
    s.g.dispatch(s.b, 0);
    expect(seen.slice(2)).toEqual([64, 0]);
    const out = s.port.takeTx();
    expect(new DataView(out[1].buffer).getUint32(12)).toBe(0x81000005);
    s.devs.list[1].up = false;
    s.fill(1, 1, 14);
    s.g.dispatch(s.b, 0);
    expect(drops(s.g)).toEqual({ 'dev.tx_errors': 3 });
    expect(s.pool.available).toBe(s.pool.total);
  });
});
