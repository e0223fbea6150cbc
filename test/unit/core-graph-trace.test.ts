// The graph's tracing hook and drop attribution: marked packets run alone in batch order with the
// tracer around each stage run, the others as one vector; drops are counted per stage and each
// reason knows the stages that registered it.
import { describe, expect, it } from 'vitest';
import type { Batch } from '../../src/core/batch.ts';
import type { GraphTracer } from '../../src/core/graph.ts';
import { ETH_P_IP } from '../../src/wire/ethernet.ts';
import { Sink, stack, udpFrame } from '../support/core-graph.ts';

describe('graph tracing hook', () => {
  it('runs marked packets alone, in order, showing each stage run; the rest as vectors', () => {
    const s = stack();
    const sink = new Sink('ip-sink');
    s.graph.add(sink);
    s.ptype.add(ETH_P_IP, 'ip-sink');
    const events: string[] = [];
    const tracer: GraphTracer = {
      // trace the datagrams to port 7 only
      select(b: Batch, n: number, _entry: number, hit: Uint8Array) {
        let c = 0;
        for (let i = 0; i < n; i++) {
          if (s.pool.umem.dv.getUint16(b.addr[i] + 14 + 20 + 2) === 7) {
            hit[i] = 1;
            c++;
          }
        }
        return c;
      },
      begin: (_b, i) => events.push(`begin ${i}`),
      before: (_b, st, v, k) => events.push(`before ${s.graph.stages[st].name} ${[...v.subarray(0, k)].join(',')}`),
      after: (_b, st) => {
        const out: string[] = [];
        for (let q = 0; q < s.graph.stages.length; q++) for (let j = 0; j < s.graph.queued(q); j++) out.push(`${s.graph.stages[q].name}:${s.graph.queuedAt(q, j)}`);
        events.push(`after ${s.graph.stages[st].name} -> ${out.join(' ') || '-'}`);
      },
      end: () => events.push('end'),
    };
    s.graph.tracer = tracer;
    s.napi.start();
    for (const port of [9, 7, 9, 9, 7]) s.a.inject(udpFrame(port));
    s.napi.kick();
    expect(sink.count).toBe(5);
    // batch order kept: 9, 7, 9 9, 7
    expect(sink.seen.map((x) => x.len)).toHaveLength(5);
    expect(events).toEqual([
      'begin 1',
      'before eth-input 1',
      'after eth-input -> ip-sink:1',
      'before ip-sink 1',
      'after ip-sink -> -',
      'end',
      'begin 4',
      'before eth-input 4',
      'after eth-input -> ip-sink:4',
      'before ip-sink 4',
      'after ip-sink -> -',
      'end',
    ]);
    s.graph.tracer = null;
    s.napi.stop();
  });

  it('counts drops per stage and names the stages of a reason', () => {
    const s = stack();
    s.graph.seal();
    s.napi.start();
    // no ptype for IPv4: eth-input drops them as eth.unknown_ethertype
    for (let k = 0; k < 3; k++) s.a.inject(udpFrame(9));
    s.napi.kick();
    const eth = s.graph.id('eth-input');
    expect(s.graph.stageDrops[eth]).toBe(3);
    expect(s.graph.runtime()[eth].drops).toBe(3);
    const r = s.graph.drops.names.indexOf('eth.unknown_ethertype');
    expect(s.graph.drops.v[r]).toBe(3);
    expect(s.graph.reasonStages[r]).toEqual(['eth-input']);
    s.napi.stop();
  });
});
