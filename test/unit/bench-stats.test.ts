import { describe, expect, it } from 'vitest';
import {
  fmtSummary,
  generatorLimited,
  IMIX,
  imixSequence,
  lineRatePct,
  lineRatePps,
  lossFraction,
  meanFrameSize,
  median,
  percentile,
  ratioOfMedians,
  round,
  roundSummary,
  summarize,
  summarizeSome,
  wireBps,
} from '../../src/bench/stats.ts';
import { parseRateLine, windowRate } from '../../src/bench/proc.ts';
import { parsePing } from '../../src/bench/latency.ts';

describe('line rate (20 B preamble + gap per frame, sizes incl. FCS)', () => {
  it('matches the textbook figures', () => {
    expect(lineRatePps(64, '10g') / 1e6).toBeCloseTo(14.88095, 4);
    expect(lineRatePps(64, '1g') / 1e6).toBeCloseTo(1.488095, 5);
    expect(lineRatePps(64, '25g') / 1e6).toBeCloseTo(37.2024, 3);
    expect(lineRatePps(64, '40g') / 1e6).toBeCloseTo(59.5238, 3);
    expect(lineRatePps(64, '100g') / 1e6).toBeCloseTo(148.8095, 3);
    expect(lineRatePps(1518, '10g') / 1e6).toBeCloseTo(0.812744, 5);
    expect(lineRatePps(512, '10g') / 1e6).toBeCloseTo(10e9 / (532 * 8) / 1e6, 9);
  });
  it('gives percentages of it', () => {
    expect(lineRatePct(14.880952, 64, '10g')).toBeCloseTo(100, 3);
    expect(lineRatePct(1.488095, 64, '10g')).toBeCloseTo(10, 3);
    expect(lineRatePct(0.812744, 1518, '10g')).toBeCloseTo(100, 3);
    expect(lineRatePct(2.96, 64, '100g')).toBeCloseTo((2.96 / 148.8095) * 100, 3);
    // a full 10 GbE link in bits on the wire, whatever the size
    expect(wireBps(lineRatePps(512, '10g') / 1e6, 512)).toBeCloseTo(10e9, 0);
  });
});

describe('IMIX', () => {
  it('is 7:4:1 of 64/594/1518 B', () => {
    expect(IMIX.map((m) => [m.size, m.weight])).toEqual([[64, 7], [594, 4], [1518, 1]]);
    expect(meanFrameSize('imix')).toBeCloseTo(4342 / 12, 9);
    expect(meanFrameSize(512)).toBe(512);
    expect(lineRatePps('imix', '10g') / 1e6).toBeCloseTo(10e9 / ((4342 / 12 + 20) * 8) / 1e6, 9);
    expect(lineRatePct(3.2736, 'imix', '10g')).toBeCloseTo(100, 1);
  });
  it('interleaves the sequence in the right proportions', () => {
    const s = imixSequence();
    expect(s).toHaveLength(12);
    expect(s.filter((x) => x === 64)).toHaveLength(7);
    expect(s.filter((x) => x === 594)).toHaveLength(4);
    expect(s.filter((x) => x === 1518)).toHaveLength(1);
    expect(s[0]).toBe(64);
    // no long run of one size: every window of 4 holds a 64 B frame
    for (let i = 0; i + 4 <= s.length; i++) expect(s.slice(i, i + 4)).toContain(64);
  });
});

describe('summaries and ratios', () => {
  it('median of odd and even counts, unsorted input untouched', () => {
    const v = [3, 1, 2];
    expect(median(v)).toBe(2);
    expect(v).toEqual([3, 1, 2]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(() => median([])).toThrow();
  });
  it('min/median/max; none is null, not NaN', () => {
    expect(summarize([2.9, 2.5, 3.3])).toEqual({ min: 2.5, median: 2.9, max: 3.3, n: 3 });
    expect(() => summarize([1, NaN])).toThrow(/finite/);
    expect(() => summarize([])).toThrow();
    expect(summarizeSome([])).toBeNull();
    expect(summarizeSome([4, 1, 3, 2])).toEqual({ min: 1, median: 2.5, max: 4, n: 4 });
  });
  it('ratio of medians, not of means; null when a side is missing', () => {
    const s = summarize([1, 2, 9]); // median 2, mean 4
    const b = summarize([4, 4, 4]);
    expect(ratioOfMedians(s, b)).toBe(0.5);
    expect(ratioOfMedians(s, summarize([0, 0, 0]))).toBeNull();
    expect(ratioOfMedians(s, null)).toBeNull();
    expect(ratioOfMedians(null, b)).toBeNull();
  });
  it('rounding and formatting of summaries', () => {
    expect(round(1.23456, 2)).toBe(1.23);
    expect(roundSummary(summarize([1.23456e6, 2.5e6, 3e6]), 2, 1e6)).toEqual({ min: 1.23, median: 2.5, max: 3, n: 3 });
    expect(fmtSummary(summarize([1.234e6, 2.5e6, 3e6]), 2, 1e6)).toBe('1.23 / 2.50 / 3.00');
    expect(fmtSummary(summarize([812.4, 900, 1001.6]), 0)).toBe('812 / 900 / 1002');
    expect(fmtSummary(null, 2)).toBe('n/a');
  });
  it('percentiles by nearest rank', () => {
    const v = Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(percentile(v, 50)).toBe(500);
    expect(percentile(v, 99)).toBe(990);
    expect(percentile(v, 99.9)).toBe(999);
    expect(percentile(v, 100)).toBe(1000);
    expect(percentile([5, 1, 3], 0)).toBe(1);
    expect(percentile(Array.from({ length: 100 }, (_, i) => i), 99.9)).toBe(99); // fewer than 1000: the max
  });
  it('generator-limited and loss', () => {
    expect(generatorLimited(0.99, 1.0)).toBe(true);
    expect(generatorLimited(0.9, 1.0)).toBe(false);
    expect(generatorLimited(1, 0)).toBe(false);
    expect(lossFraction(1000, 990)).toBeCloseTo(0.01);
    expect(lossFraction(0, 0)).toBe(0);
    expect(lossFraction(10, 12)).toBe(0);
  });
});

describe('tool output parsing', () => {
  it('reads per-second rate lines', () => {
    expect(parseRateLine('xsk_ref rxdrop:      2883456 pps')).toBe(2883456);
    expect(parseRateLine('xsk_fwd gen:       975204 pps')).toBe(975204);
    expect(parseRateLine('rx 2.88 Mpps')).toBe(2.88e6);
    expect(parseRateLine('snlab-a0 q0: 1,234,567 rx/s')).toBe(1234567);
    expect(parseRateLine('{"pps": 12.5}')).toBe(12.5);
    expect(parseRateLine('{"pps": 12.5, "final": true}')).toBeNull();
    expect(parseRateLine('attached to snbn-a0')).toBeNull();
  });
  it('takes the median of the seconds inside the window', () => {
    const pts = [
      { t: 10.5, pps: 100 }, // warm-up
      { t: 11.5, pps: 900 }, // covers 10.5..11.5: before from=11
      { t: 12.5, pps: 1000 },
      { t: 13.5, pps: 1100 },
      { t: 14.5, pps: 1050 },
      { t: 15.5, pps: 300 }, // tail after the generator ended at 14.6
    ];
    expect(windowRate(pts, 11, 14.6)).toBe(1050);
    expect(windowRate(pts, 20, 30)).toBeNull();
  });
  it('reads ping', () => {
    const out = [
      '64 bytes from 10.2.0.2: icmp_seq=1 ttl=63 time=0.052 ms',
      '64 bytes from 10.2.0.2: icmp_seq=2 ttl=63 time=0.101 ms',
      '',
      '--- 10.2.0.2 ping statistics ---',
      '3 packets transmitted, 2 received, 33.3333% packet loss, time 2ms',
    ].join('\n');
    const r = parsePing(out);
    expect(r.rttUs.map((x) => Math.round(x))).toEqual([52, 101]);
    expect(r.sent).toBe(3);
    expect(r.received).toBe(2);
  });
});
