import { describe, expect, it } from 'vitest';
import { buildEntry, reduceSystem, rotation, runSuite } from '../../src/bench/runner.ts';
import { Progress } from '../../src/bench/progress.ts';
import { waitFor } from '../support/wait.ts';
import { markdown, targetLines } from '../../src/bench/report.ts';
import { charts } from '../../src/bench/output.ts';
import { groupedBarsSvg, niceScale, stackedStagesSvg } from '../../src/bench/svg.ts';
import { toStageRows } from '../../src/bench/softnet-stack.ts';
import type { BenchSystem, Sample, Scenario } from '../../src/bench/types.ts';

const sink = { write: (_s: string) => true };
const sc = { name: 'rxdrop', kind: 'throughput' as const, expectLoss: true, subject: 'softnet' };

function fixed(name: string, values: number[], extra: Partial<Sample> = {}): BenchSystem & { order: number[] } {
  let i = 0;
  const order: number[] = [];
  return {
    name,
    order,
    async run() {
      order.push(Date.now());
      return { mpps: values[i++ % values.length], seconds: 1, ...extra };
    },
  };
}

describe('reduce and entries', () => {
  it('min/median/max, ratios of medians and line rate', () => {
    const e = buildEntry(sc, 64, {
      softnet: { samples: [2.7, 2.9, 2.5].map((mpps) => ({ mpps, seconds: 1 })) },
      'c-rxdrop': { samples: [3.0, 2.9, 3.1].map((mpps) => ({ mpps, seconds: 1 })) },
      'kernel-xdp-drop': { samples: [], notRun: 'no XDP here' },
    }, '10g');
    expect(e.systems.softnet).toMatchObject({ status: 'ok', min: 2.5, median: 2.7, max: 2.9, n: 3, reps: [2.7, 2.9, 2.5] });
    expect(e.ratios['c-rxdrop']).toBeCloseTo(2.7 / 3.0, 3);
    expect(e.ratios['kernel-xdp-drop']).toBeNull();
    expect(e.ratioNotes?.['kernel-xdp-drop']).toMatch(/not run: no XDP here/);
    expect(e.systems['kernel-xdp-drop']).toEqual({ status: 'not-run', reason: 'not run: no XDP here' });
    expect(e.lineRatePct).toBeCloseTo((2.7 / 14.880952) * 100, 1);
    expect(e.frameSize).toBe(64);
    expect(e.metric).toBe('mpps');
  });
  it('a generator-limited result is not a number to compare', () => {
    const r = reduceSystem({ samples: [{ mpps: 1.0, genMpps: 1.01, seconds: 1 }, { mpps: 0.8, genMpps: 1.2, seconds: 1 }] }, sc, 64, '10g');
    expect(r.status).toBe('generator-limited');
    expect(r.reason).toMatch(/generator-limited: .* 1 of 2 reps/);
    const e = buildEntry(sc, 64, {
      softnet: { samples: [{ mpps: 1.0, genMpps: 1.0, seconds: 1 }] },
      'c-rxdrop': { samples: [{ mpps: 0.5, genMpps: 1.0, seconds: 1 }] },
    }, '10g');
    expect(e.ratios['c-rxdrop']).toBeNull();
    expect(e.lineRatePct).toBeNull();
  });
  it('loss where none is expected is a fault, and a failed rep fails the system', () => {
    const lat = { ...sc, name: 'latency', kind: 'latency' as const, expectLoss: false, subject: 'softnet-busy-poll' };
    const rtt = Array.from({ length: 1000 }, (_, i) => 10 + i / 10);
    const e = buildEntry(lat, 64, {
      'softnet-busy-poll': { samples: [{ mpps: 0, rttUs: rtt, sent: 1000, received: 1000, seconds: 1 }] },
      'linux-fwd': { samples: [{ mpps: 0, rttUs: rtt.map((x) => x * 2), sent: 1000, received: 900, seconds: 1 }] },
      'c-fwd': { samples: [], failed: 'rep 1 failed: boom' },
    }, '10g');
    expect(e.metric).toBe('rtt-us');
    expect(e.systems['softnet-busy-poll']).toMatchObject({ status: 'ok', p50: 59.9, p99: 108.9, p999: 109.8, samples: 1000 });
    expect(e.systems['linux-fwd'].status).toBe('loss');
    expect(e.systems['linux-fwd'].reason).toMatch(/lost 100 of 1000/);
    expect(e.ratios['linux-fwd']).toBeNull();
    expect(e.systems['c-fwd']).toEqual({ status: 'not-run', reason: 'not run: rep 1 failed: boom' });
    expect(e.lineRatePct).toBeNull();
  });
  it('keeps what the tools reported per repetition', () => {
    const r = reduceSystem({ samples: [{ mpps: 1, seconds: 1, extra: { summary: { rx_ring_full: 5 }, none: null } }, { mpps: 2, seconds: 1 }] }, sc, 64, '10g');
    expect(r.details).toEqual([{ summary: { rx_ring_full: 5 } }, {}]);
    expect(reduceSystem({ samples: [{ mpps: 1, seconds: 1 }] }, sc, 64, '10g').details).toBeUndefined();
  });
  it('rotates the order each repetition', () => {
    expect(rotation(['a', 'b', 'c'], 0)).toEqual(['a', 'b', 'c']);
    expect(rotation(['a', 'b', 'c'], 1)).toEqual(['b', 'c', 'a']);
    expect(rotation(['a', 'b', 'c'], 5)).toEqual(['c', 'a', 'b']);
  });
});

describe('runSuite: the JSON shape', () => {
  it('runs every system every rep, alternating, and reports failures as reasons', async () => {
    const softnet = fixed('softnet', [2.0, 2.2, 2.1], {
      stages: toStageRows([
        { name: 'ip_rcv', calls: 10, packets: 640, packetsPerCall: 64, nsPerPacket: 15 },
        { name: 'fib', calls: 10, packets: 640, packetsPerCall: 64, nsPerPacket: 5 },
        { name: 'idle', calls: 0, packets: 0, packetsPerCall: 0, nsPerPacket: 0 },
      ]),
    });
    const cref = fixed('c-rxdrop', [3.0]);
    const broken: BenchSystem = { name: 'kernel-xdp-drop', run: async () => { throw new Error('EPERM'); } };
    const missing: BenchSystem = { name: 'c-fwd', check: async () => 'bench/c/xsk_fwd.c is missing', run: async () => ({ mpps: 1, seconds: 1 }) };
    const calls: string[] = [];
    const scenario: Scenario = {
      ...sc,
      title: 'test',
      systems: [softnet, cref, broken, missing],
      frameSizes: [64, 'imix'],
      placement: ['generator CPU 0'],
      setup: async () => void calls.push('setup'),
      teardown: async () => void calls.push('teardown'),
    };
    const skipped: Scenario = { ...scenario, name: 'router', check: async () => 'needs root', systems: [] };
    const res = await runSuite([scenario, skipped], [{ name: 'filter', reason: 'failed to load: x' }], { quick: true, seconds: 1, reps: 3, link: '10g', command: 'softnet bench --quick' }, new Progress(sink));
    expect(calls).toEqual(['setup', 'teardown']);
    expect(res.schema).toBe('softnet-bench/1');
    expect(Object.keys(res.machine).sort()).toEqual(['commit', 'cpuModel', 'cpus', 'hostname', 'kernel', 'node']);
    expect(res.machine.node).toBe(process.version);
    expect(res.scenarios).toHaveLength(2);
    expect(res.notRun).toEqual([{ name: 'filter', reason: 'failed to load: x' }, { name: 'router', reason: 'needs root' }]);
    const [e64, eimix] = res.scenarios;
    expect(e64.frameSize).toBe(64);
    expect(eimix.frameSize).toBe('imix');
    expect(Object.keys(e64.systems)).toEqual(['softnet', 'c-rxdrop', 'kernel-xdp-drop', 'c-fwd']);
    expect(e64.systems.softnet).toMatchObject({ min: 2.0, median: 2.1, max: 2.2, status: 'ok' });
    expect(e64.ratios).toEqual({ 'c-rxdrop': 0.7, 'kernel-xdp-drop': null, 'c-fwd': null });
    expect(e64.systems['kernel-xdp-drop'].reason).toBe('not run: rep 1 failed: EPERM');
    expect(e64.systems['c-fwd'].reason).toBe('not run: bench/c/xsk_fwd.c is missing');
    expect(e64.stages?.map((s) => s.stage)).toEqual(['ip_rcv', 'fib']);
    expect(e64.stages?.[0].sharePct).toBe(75);
    expect(softnet.order).toHaveLength(6); // 3 reps x 2 sizes
    expect(cref.order).toHaveLength(6);
    expect(res.placement.rxdrop).toEqual(['generator CPU 0']);
    // JSON round trip keeps everything
    expect(JSON.parse(JSON.stringify(res))).toEqual(res);

    const md = markdown(res, ['rxdrop.svg']);
    expect(md).toMatch(/\| 64 B \| 2\.00 \/ \*\*2\.10\*\* \/ 2\.20 \| 3\.00 \/ \*\*3\.00\*\* \/ 3\.00 \| not run: rep 1 failed: EPERM \|/);
    expect(md).toMatch(/0\.70×/);
    expect(md).toMatch(/rxdrop: softnet ≥ 0\.9× the C reference: 64 B 0\.70× NOT met/);
    expect(md).toMatch(/## Not run\n- filter: failed to load: x\n- router: needs root/);
    expect(md).toMatch(/\| ip_rcv \| 10 \| 640 \| 64\.0 \| 15\.0 \| 75\.0% \|/);
    expect(md).toContain('![rxdrop.svg](rxdrop.svg)');
    expect(targetLines(res).join('\n')).toMatch(/router: .*not measured/);
    const c = charts(res);
    expect(Object.keys(c).sort()).toEqual(['rxdrop.svg', 'stages.svg']);
    expect(c['rxdrop.svg']).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(c['rxdrop.svg']).toContain('not run');
  });
});

describe('runSuite: a scenario\'s own tables', () => {
  it('are run after its rates, before teardown, and printed under it', async () => {
    const calls: string[] = [];
    const scenario: Scenario = {
      ...sc,
      name: 'udp',
      title: 'udp',
      systems: [fixed('softnet', [1.0]), fixed('kernel-recvmmsg', [0.5])],
      frameSizes: [64],
      placement: [],
      tables: async () => {
        calls.push('tables');
        return [{ scenario: 'udp', title: 'RcvbufErrors', head: ['system', 'Udp: RcvbufErrors'], rows: [['softnet', '12|3']], notes: ['a note'] }];
      },
      teardown: async () => void calls.push('teardown'),
    };
    const res = await runSuite([scenario], [], { quick: true, seconds: 1, reps: 1, link: '10g', command: 'softnet bench' }, new Progress(sink));
    expect(calls).toEqual(['tables', 'teardown']);
    expect(res.tables).toEqual([{ scenario: 'udp', title: 'RcvbufErrors', head: ['system', 'Udp: RcvbufErrors'], rows: [['softnet', '12|3']], notes: ['a note'] }]);
    expect(markdown(res)).toMatch(/## udp\n[^#]*RcvbufErrors:\n\n\| system \| Udp: RcvbufErrors \|\n\| --- \| --- \|\n\| softnet \| 12\\\|3 \|\n\n- a note/);
  });
  it('a failing table is a log line, not a failed run', async () => {
    const scenario: Scenario = { ...sc, name: 'udp', title: 'udp', systems: [fixed('softnet', [1.0])], frameSizes: [64], placement: [], tables: async () => { throw new Error('no python3'); } };
    const res = await runSuite([scenario], [], { quick: true, seconds: 1, reps: 1, link: '10g', command: 'softnet bench' }, new Progress(sink));
    expect(res.tables).toBeUndefined();
    expect(res.log).toContain('udp: tables failed: no python3');
  });
});

describe('svg', () => {
  it('nice scales', () => {
    expect(niceScale(2.96)).toEqual({ top: 3, step: 1 });
    expect(niceScale(0.31)).toEqual({ top: 0.4, step: 0.1 });
    expect(niceScale(14.88)).toEqual({ top: 15, step: 5 });
    expect(niceScale(0)).toEqual({ top: 1, step: 0.2 });
  });
  it('draws one bar per measured system and size, escaping text', () => {
    const svg = groupedBarsSvg('a <b> & c', [
      { name: 'x', frameSize: 64, metric: 'mpps', ratios: {}, lineRatePct: 1, systems: { softnet: { status: 'ok', min: 1, median: 2, max: 3 }, 'c-rxdrop': { status: 'ok', min: 2, median: 2, max: 2 } } },
      { name: 'x', frameSize: 'imix', metric: 'mpps', ratios: {}, lineRatePct: 1, systems: { softnet: { status: 'ok', min: 1, median: 1, max: 1 }, 'c-rxdrop': { status: 'not-run', reason: 'not run: x' } } },
    ]);
    expect(svg).toContain('a &lt;b&gt; &amp; c');
    expect(svg.match(/<rect x=[^>]*fill="#(1f77b4|ff7f0e)"[^>]*><title>/g)).toHaveLength(3);
    expect(svg).toContain('IMIX');
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    const st = stackedStagesSvg('stages', [{ label: 'router 64 B', stages: toStageRows([{ name: 'a', calls: 1, packets: 1, packetsPerCall: 1, nsPerPacket: 30 }, { name: 'b', calls: 1, packets: 1, packetsPerCall: 1, nsPerPacket: 10 }]) }]);
    expect(st).toContain('a: 30.0 ns/packet (75.0%)');
    expect(st).toContain('>40<');
  });
});

describe('progress', () => {
  it('writes a status line with bar, label, elapsed and rate', () => {
    const out: string[] = [];
    const p = new Progress({ write: (s: string) => out.push(s) });
    p.setTotal(4);
    p.begin('rxdrop 64 B softnet rep 1/3', 2);
    p.rate(2_500_000, 'softnet drop');
    expect(p.status()).toMatch(/^\[-+\] 0\/4 rxdrop 64 B softnet rep 1\/3 0 s · 2\.5 Mpps · softnet drop$/);
    p.end('rxdrop 64 B softnet rep 1/3', '2.5 Mpps');
    expect(out.at(-1)).toMatch(/^\[#####-+\] 1\/4 rxdrop 64 B softnet rep 1\/3: 2\.5 Mpps\n$/);
  });
  it('to a log (not a TTY): one line per step when it ends, nothing while it runs', async () => {
    const out: string[] = [];
    const p = new Progress({ write: (s: string) => out.push(s) }, 20);
    p.setTotal(2);
    p.start();
    for (const label of ['a', 'b']) {
      p.begin(label, 1);
      p.rate(1000, 'x');
      // Ten ticker periods of a running step write nothing.
      let ticks = 0;
      const t = setInterval(() => ticks++, 20);
      try {
        await waitFor('10 ticks of a sentinel timer', () => ticks >= 10);
      } finally {
        clearInterval(t);
      }
      p.end(label, '1 kpps');
    }
    p.stop();
    expect(out).toEqual(['[##########----------] 1/2 a: 1 kpps\n', '[####################] 2/2 b: 1 kpps\n']);
  });
  it('on a terminal: redraws on its own while running, and not after stop()', async () => {
    const out: string[] = [];
    const p = new Progress({ write: (s: string) => out.push(s), isTTY: true }, 50);
    p.setTotal(1);
    p.start();
    p.begin('x', 1);
    const n0 = out.length;
    await waitFor('two ticks of the progress line', () => out.length - n0 >= 2);
    p.stop();
    const n1 = out.length;
    // A sentinel timer of the same period fires 4 times: a progress timer still armed would have
    // fired in between (same clock, same order), so nothing more may have been written.
    let ticks = 0;
    const t = setInterval(() => ticks++, 50);
    try {
      await waitFor('4 ticks of a sentinel timer', () => ticks >= 4);
    } finally {
      clearInterval(t);
    }
    expect(out.length).toBe(n1);
  });
});
