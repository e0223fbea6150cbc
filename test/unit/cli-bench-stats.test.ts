// Arithmetic of the lab benchmarks (bench/lib/stats.ts).
import { describe, expect, it } from 'vitest';
import { fmtMpps, lineRatePps, ratioOfMedians, round, summarize } from '../../bench/lib/stats.ts';

describe('bench stats', () => {
  it('min / median / max, odd and even counts, unsorted input untouched', () => {
    const xs = [3, 1, 2];
    expect(summarize(xs)).toEqual({ n: 3, min: 1, median: 2, max: 3 });
    expect(xs).toEqual([3, 1, 2]);
    expect(summarize([4, 1, 3, 2]).median).toBe(2.5);
    expect(summarize([]).n).toBe(0);
    expect(summarize([]).median).toBeNaN();
  });

  it('ratio of medians; NaN when a side is missing', () => {
    expect(ratioOfMedians(summarize([0.9, 1.8, 2]), summarize([2, 2, 2]))).toBeCloseTo(0.9);
    expect(ratioOfMedians(summarize([1]), summarize([]))).toBeNaN();
  });

  it('line rate counts preamble and inter-frame gap (notes table)', () => {
    expect(lineRatePps(64, 10) / 1e6).toBeCloseTo(14.88, 2);
    expect(lineRatePps(64, 1) / 1e6).toBeCloseTo(1.488, 3);
    expect(lineRatePps(1518, 10) / 1e6).toBeCloseTo(0.8127, 3);
    expect(lineRatePps(64, 100) / 1e6).toBeCloseTo(148.8, 1);
  });

  it('formatting', () => {
    expect(fmtMpps(summarize([1.234e6, 2.5e6, 3e6]))).toBe('1.23 / 2.50 / 3.00');
    expect(fmtMpps(summarize([]))).toBe('n/a');
    expect(round(1.23456, 2)).toBe(1.23);
  });
});
