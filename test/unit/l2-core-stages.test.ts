// L2 wired to the real core stages: eth-input (ptype dispatch, VLAN untag) and dev-xmit (VLAN
// tag insert, port TX), over a memory port. Frames go in with inject() and come out of takeTx().
import { describe, expect, it } from 'vitest';
import { Batch } from '../../src/core/batch.ts';
import { DevXmit } from '../../src/core/dev-xmit.ts';
import { EthInput } from '../../src/core/eth-input.ts';
import { Graph } from '../../src/core/graph.ts';
import { NetDevices } from '../../src/core/netdev.ts';
import { PtypeTable } from '../../src/core/ptype.ts';
import { FramePool } from '../../src/driver/pool.ts';
import { MemoryPort } from '../../src/driver/memory.ts';
import { memoryUmem } from '../../src/driver/umem.ts';
import { parseIPv4, parseMac } from '../../src/wire/addr.ts';
import { registerL2 } from '../../src/l2/index.ts';
import { OUR_IP, OUR_MAC, PEER_IP, PEER_MAC, arpFrame, ipFrame, mac, replyFrom } from '../support/l2-graph.ts';

function wire() {
  const umem = memoryUmem(256);
  const pool = new FramePool(umem);
  const port = new MemoryPort('mem0', umem, pool, 64, 64, parseMac(OUR_MAC));
  const devs = new NetDevices();
  const p0 = devs.addPort('p0', port);
  p0.addrs.push({ addr: OUR_IP, prefixLen: 24 });
  const v5 = devs.addVlan('p0', 5);
  v5.addrs.push({ addr: parseIPv4('10.5.0.1'), prefixLen: 24 });
  const g = new Graph(pool, 64);
  const ptype = new PtypeTable();
  g.add(new EthInput(devs, ptype));
  const clock = { now: 0 };
  const l2 = registerL2(g, devs, ptype, { clock: () => clock.now });
  g.add(new DevXmit(devs));
  g.seal();
  const b = new Batch(64);
  /** What the poll loop does: receive from the port, enter the graph at eth-input. */
  const poll = (frames: Uint8Array[]) => {
    for (const f of frames) port.inject(f);
    b.n = 0;
    const n = port.rx(64);
    for (let k = 0; k < n; k++) b.push(port.rxAddr[k], port.rxLen[k], p0.index);
    g.dispatch(b, g.id('eth-input'));
  };
  /** What ip-output does: an IP packet for `dst` on device `oif` into neigh-output. */
  const output = (dst: number, oif = 0) => {
    const f = ipFrame(dst);
    const a = pool.alloc();
    umem.u8.set(f, a);
    b.n = 0;
    const i = b.push(a, f.length, 0);
    b.l3[i] = 14;
    b.oif[i] = oif;
    g.dispatch(b, g.id('neigh-output'));
  };
  return { g, pool, port, devs, l2, clock, poll, output, v5 };
}

describe('L2 with eth-input and dev-xmit', () => {
  it('ARP 0x0806 is registered with ptype and a broadcast request is answered on the wire', () => {
    const w = wire();
    w.poll([arpFrame({ op: 1, pad: 18 })]);
    const tx = w.port.takeTx();
    expect(tx).toHaveLength(1);
    expect(tx[0].length).toBe(42);
    expect([...tx[0].subarray(0, 14)]).toEqual([...mac(PEER_MAC), ...mac(OUR_MAC), 0x08, 0x06]);
    expect(tx[0][21]).toBe(2);
    expect(w.pool.available).toBe(w.pool.total);
  });

  it('a tagged request for the VLAN address is answered tagged', () => {
    const w = wire();
    w.poll([arpFrame({ op: 1, sip: parseIPv4('10.5.0.2'), tip: parseIPv4('10.5.0.1'), vlan: 5 })]);
    const tx = w.port.takeTx();
    expect(tx).toHaveLength(1);
    expect([...tx[0].subarray(12, 18)]).toEqual([0x81, 0x00, 0x00, 0x05, 0x08, 0x06]);
    expect([...tx[0].subarray(32, 36)]).toEqual([10, 5, 0, 1]);
    expect(w.l2.neigh.stateOf(w.v5.index, parseIPv4('10.5.0.2'))).toBe('STALE');
  });

  it('neigh-output: request on the wire, reply resolves, the queued packet goes out; VLAN too', () => {
    const w = wire();
    w.output(PEER_IP);
    let tx = w.port.takeTx();
    expect(tx).toHaveLength(1);
    expect([...tx[0].subarray(12, 14)]).toEqual([0x08, 0x06]);
    w.poll([replyFrom(PEER_IP, PEER_MAC)]);
    tx = w.port.takeTx();
    expect(tx).toHaveLength(1);
    expect([...tx[0].subarray(0, 14)]).toEqual([...mac(PEER_MAC), ...mac(OUR_MAC), 0x08, 0x00]);
    // Now resolved: straight out.
    w.output(PEER_IP);
    expect(w.port.takeTx()).toHaveLength(1);
    // On the VLAN sub-interface the request is tagged, and so is the released packet.
    const far = parseIPv4('10.5.0.9');
    w.output(far, w.v5.index);
    tx = w.port.takeTx();
    expect([...tx[0].subarray(12, 18)]).toEqual([0x81, 0x00, 0x00, 0x05, 0x08, 0x06]);
    w.poll([arpFrame({ op: 2, ethDst: OUR_MAC, sip: far, tip: parseIPv4('10.5.0.1'), tha: OUR_MAC, vlan: 5 })]);
    tx = w.port.takeTx();
    expect(tx).toHaveLength(1);
    expect([...tx[0].subarray(12, 18)]).toEqual([0x81, 0x00, 0x00, 0x05, 0x08, 0x00]);
    expect(w.l2.neigh.stateOf(w.v5.index, far)).toBe('REACHABLE');
    // Retransmits come out of tick() alone, with no traffic to piggyback on.
    w.output(parseIPv4('10.0.0.77'));
    w.port.takeTx();
    w.clock.now += 1000;
    w.l2.neigh.tick();
    expect(w.port.takeTx()).toHaveLength(1);
    w.l2.neigh.clear();
    expect(w.pool.available).toBe(w.pool.total);
  });
});
