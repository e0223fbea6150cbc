// Small statistics for lab benchmarks: repetitions reduce to min / median / max.

export interface Summary {
  n: number;
  min: number;
  median: number;
  max: number;
}

export function summarize(xs: readonly number[]): Summary {
  if (xs.length === 0) return { n: 0, min: NaN, median: NaN, max: NaN };
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  const median = s.length & 1 ? s[m] : (s[m - 1] + s[m]) / 2;
  return { n: s.length, min: s[0], median, max: s[s.length - 1] };
}

/** a's median over b's median (NaN when either is missing). */
export function ratioOfMedians(a: Summary, b: Summary): number {
  return a.n && b.n && b.median > 0 ? a.median / b.median : NaN;
}

/** Ethernet line rate in packets/s for a frame of `frameBytes` (incl. FCS) on a `gbps` link: + 20 B preamble and gap. */
export function lineRatePps(frameBytes: number, gbps: number): number {
  return (gbps * 1e9) / ((frameBytes + 20) * 8);
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** "1.23 / 1.45 / 1.60" in millions. */
export function fmtMpps(s: Summary): string {
  if (!s.n) return 'n/a';
  return [s.min, s.median, s.max].map((x) => (x / 1e6).toFixed(2)).join(' / ');
}
